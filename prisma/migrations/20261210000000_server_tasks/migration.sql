-- Server tasks (issue 12): work the control plane does for an admin from the dashboard, "Publish
-- from Apple" and a project's bundle written to a server path. PostgreSQL holds each task's state
-- and progress; the BullMQ job only runs it.

-- CreateEnum
CREATE TYPE "ServerTaskKind" AS ENUM ('publish-apple', 'bundle-export');

-- CreateEnum
CREATE TYPE "ServerTaskState" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "server_tasks" (
    "id" UUID NOT NULL,
    "kind" "ServerTaskKind" NOT NULL,
    "params" JSONB NOT NULL,
    "state" "ServerTaskState" NOT NULL DEFAULT 'queued',
    "bytes_done" BIGINT NOT NULL DEFAULT 0,
    "bytes_total" BIGINT,
    "message" TEXT,
    "result" JSONB,
    "error" TEXT,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "server_tasks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "server_tasks_created_at_idx" ON "server_tasks"("created_at");

-- CreateIndex
CREATE INDEX "server_tasks_state_idx" ON "server_tasks"("state");

-- AddForeignKey
ALTER TABLE "server_tasks" ADD CONSTRAINT "server_tasks_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
