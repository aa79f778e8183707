-- CreateTable
CREATE TABLE "convergence_samples" (
    "project_id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "nodes" INTEGER NOT NULL,
    "holding" INTEGER NOT NULL,

    CONSTRAINT "convergence_samples_pkey" PRIMARY KEY ("project_id","at")
);

-- CreateTable
CREATE TABLE "rollouts" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "pin_id" UUID NOT NULL,
    "reference" TEXT NOT NULL,
    "digest" VARCHAR(71) NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),
    "nodes" INTEGER NOT NULL,
    "timed" BOOLEAN NOT NULL DEFAULT true,

    CONSTRAINT "rollouts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "rollouts_pin_id_started_at_idx" ON "rollouts"("pin_id", "started_at");

-- CreateIndex
CREATE INDEX "rollouts_project_id_started_at_idx" ON "rollouts"("project_id", "started_at");

-- AddForeignKey
ALTER TABLE "convergence_samples" ADD CONSTRAINT "convergence_samples_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
