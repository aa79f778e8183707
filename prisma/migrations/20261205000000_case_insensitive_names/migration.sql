-- Names of projects, teams, registries and nodes are unique regardless of case ("iOS CI" and
-- "ios ci" cannot both exist): the columns become citext, so their existing unique indexes
-- compare case-insensitively, and so does every lookup by name.
CREATE EXTENSION IF NOT EXISTS citext;

-- Rows that differ only in case would break the unique indexes: every one but the oldest gets
-- its id's first eight characters appended, so nothing is lost and the admin can rename them.
UPDATE "projects" p SET "name" = left(p."name", 90) || ' (' || left(p."id"::text, 8) || ')'
WHERE EXISTS (SELECT 1 FROM "projects" o WHERE lower(o."name") = lower(p."name") AND (o."created_at", o."id") < (p."created_at", p."id"));
UPDATE "teams" t SET "name" = left(t."name", 52) || ' (' || left(t."id"::text, 8) || ')'
WHERE EXISTS (SELECT 1 FROM "teams" o WHERE lower(o."name") = lower(t."name") AND (o."created_at", o."id") < (t."created_at", t."id"));
UPDATE "registries" r SET "name" = left(r."name", 90) || ' (' || left(r."id"::text, 8) || ')'
WHERE EXISTS (SELECT 1 FROM "registries" o WHERE lower(o."name") = lower(r."name") AND (o."created_at", o."id") < (r."created_at", r."id"));
-- Node names are what agents enroll under (letters, digits, ".", "_", "-"), so the suffix uses those.
UPDATE "nodes" n SET "name" = left(n."name", 90) || '-' || left(n."id"::text, 8)
WHERE EXISTS (SELECT 1 FROM "nodes" o WHERE lower(o."name") = lower(n."name") AND (o."enrolled_at", o."id") < (n."enrolled_at", n."id"));

ALTER TABLE "projects" ALTER COLUMN "name" TYPE CITEXT;
ALTER TABLE "teams" ALTER COLUMN "name" TYPE CITEXT;
ALTER TABLE "registries" ALTER COLUMN "name" TYPE CITEXT;
ALTER TABLE "nodes" ALTER COLUMN "name" TYPE CITEXT;

-- A decommissioned node (a Mac retired from the fleet) is revoked and leaves the fleet's counts
-- and lists; enrolling it again as a replacement clears this.
ALTER TABLE "nodes" ADD COLUMN "decommissioned_at" TIMESTAMPTZ(3);
