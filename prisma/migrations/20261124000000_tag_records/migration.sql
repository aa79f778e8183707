-- CreateTable
CREATE TABLE "tag_records" (
    "registry_id" UUID NOT NULL,
    "repository" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "digest" VARCHAR(71) NOT NULL,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "checked_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tag_records_pkey" PRIMARY KEY ("registry_id","repository","tag")
);

-- AddForeignKey
ALTER TABLE "tag_records" ADD CONSTRAINT "tag_records_registry_id_fkey" FOREIGN KEY ("registry_id") REFERENCES "registries"("id") ON DELETE CASCADE ON UPDATE CASCADE;
