-- CreateTable
CREATE TABLE "mirrors" (
    "id" UUID NOT NULL,
    "registry_id" UUID NOT NULL,
    "site" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "plain_http" BOOLEAN NOT NULL DEFAULT false,
    "username" TEXT,
    "secret_sealed" BYTEA,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mirrors_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "mirrors_registry_id_site_key" ON "mirrors"("registry_id", "site");

-- AddForeignKey
ALTER TABLE "mirrors" ADD CONSTRAINT "mirrors_registry_id_fkey" FOREIGN KEY ("registry_id") REFERENCES "registries"("id") ON DELETE CASCADE ON UPDATE CASCADE;
