-- AlterTable
ALTER TABLE "nodes" ADD COLUMN     "peer_subnets" JSONB NOT NULL DEFAULT '[]';

-- CreateIndex
CREATE INDEX "sync_jobs_digest_state_origin_idx" ON "sync_jobs"("digest", "state", "origin");
