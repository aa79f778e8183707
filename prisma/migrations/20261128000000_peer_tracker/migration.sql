-- AlterTable
ALTER TABLE "nodes" ADD COLUMN     "conditions" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "sync_jobs" ADD COLUMN     "bytes_from_mirror" BIGINT,
ADD COLUMN     "bytes_from_peers" BIGINT,
ADD COLUMN     "bytes_from_registry" BIGINT,
ADD COLUMN     "origin" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "peer_sources" JSONB;
