import { PGlite } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import { readFileSync } from 'node:fs';
const db = await PGlite.create({ extensions: { postgis } });
await db.exec('create extension postgis');
const f = readFileSync('sql/010_coverage.sql', 'utf8').split('SELECT audit_install')[0].replace(/ALTER TABLE communities[\s\S]*?;\n/, '');
await db.exec(readFileSync('sql/010_coverage.sql', 'utf8').slice(readFileSync('sql/010_coverage.sql', 'utf8').indexOf('CREATE FUNCTION staffing')));
for (const q of [
 `select ST_AsText(ST_TileEnvelope(14, 13368, 6312)) e`,
 `select * from staffing_standard(3000, 9000)`,
 `select * from staffing_standard(3300, 0)`,
 `select * from staffing_standard(0, 11500)`,
 `select ST_AsText(tile_geometry(ST_Transform(ST_GeomFromText('POLYGON((109.49 36.59, 109.50 36.59, 109.50 36.60, 109.49 36.60, 109.49 36.59))', 4326), 3857), ST_TileEnvelope(14, 13368, 6312)::box2d)) t`,
 `select count(*) from ST_HexagonGrid(500, ST_TileEnvelope(12, 3342, 1578))`,
]) console.log((await db.query(q)).rows);
