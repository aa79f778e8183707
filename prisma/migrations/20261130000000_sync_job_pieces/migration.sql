-- AlterTable
ALTER TABLE "sync_jobs" ADD COLUMN     "pieces" JSONB;
