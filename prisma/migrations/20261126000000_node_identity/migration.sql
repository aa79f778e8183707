-- AlterTable
ALTER TABLE "nodes" ADD COLUMN     "pending_secret_hash" VARCHAR(64),
ADD COLUMN     "public_key" VARCHAR(64),
ADD COLUMN     "replace_allowed_until" TIMESTAMPTZ(3);
