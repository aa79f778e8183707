-- AlterEnum
ALTER TYPE "SyncJobState" ADD VALUE 'cancelling' AFTER 'pulling';
