-- Run once by the postgres image on an empty data volume (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d). The shop's database (POSTGRES_DB, lethe) is the image's own; its
-- tables are made by the sink and the store agent. This adds one database and role per stand-in
-- partner of deploy/policy.toml, with the table its store agent's mapping names
-- (deploy/partners/<name>-mapping.toml). tests/e2e/test_deploy.py checks that they match.
-- A partner's agent creates its lethe_applied_commands table itself (it owns its database).

CREATE ROLE parcelco LOGIN PASSWORD 'parcelco';
CREATE DATABASE parcelco OWNER parcelco;
\connect parcelco
CREATE TABLE shipments (
    order_id          text PRIMARY KEY,
    subject_ref       text,   -- the subject's reference at parcelco (lethe.subject of the records)
    customer_name     text,
    shipping_street   text,
    shipping_city     text,
    shipping_postcode text,
    shipping_region   text,
    carrier           text,
    tracking_number   text
);
ALTER TABLE shipments OWNER TO parcelco;

\connect lethe
CREATE ROLE paynow LOGIN PASSWORD 'paynow';
CREATE DATABASE paynow OWNER paynow;
\connect paynow
CREATE TABLE payments (
    order_id       text PRIMARY KEY,
    subject_ref    text,      -- the subject's reference at paynow (lethe.subject of the records)
    total_amount   numeric(12, 2),
    payment_status text
);
ALTER TABLE payments OWNER TO paynow;
