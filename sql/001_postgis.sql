-- PostGIS does the spatial work. On a server this needs a role allowed to create the extension
-- (or a database where it already exists).
CREATE EXTENSION IF NOT EXISTS postgis;
