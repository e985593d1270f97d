import { PGlite } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import { readFileSync } from 'node:fs';
const db = await PGlite.create({ extensions: { postgis } });
await db.exec('create extension postgis');
const s = readFileSync('sql/010_coverage.sql', 'utf8');
await db.exec(s.slice(s.indexOf('CREATE FUNCTION staffing')));
const z = 14, lon = 109.495, lat = 36.595;
const x = Math.floor((lon + 180) / 360 * 2 ** z);
const y = Math.floor((1 - Math.log(Math.tan(lat * Math.PI / 180) + 1 / Math.cos(lat * Math.PI / 180)) / Math.PI) / 2 * 2 ** z);
console.log(x, y);
for (const q of [
 `select ST_AsText(tile_geometry(ST_Transform(ST_GeomFromText('POLYGON((109.49 36.59, 109.50 36.59, 109.50 36.60, 109.49 36.60, 109.49 36.59))', 4326), 3857), ST_TileEnvelope(${z}, ${x}, ${y})::box2d)) t`,
 `select ST_AsText(tile_geometry(ST_Transform(ST_GeomFromText('POLYGON((109.494 36.594, 109.496 36.594, 109.496 36.596, 109.494 36.596, 109.494 36.594))', 4326), 3857), ST_TileEnvelope(${z}, ${x}, ${y})::box2d)) t`,
 `select ST_AsText(tile_geometry(ST_Transform(ST_GeomFromText('POINT(109.495 36.595)', 4326), 3857), ST_TileEnvelope(${z}, ${x}, ${y})::box2d)) t`,
 `select ST_AsText(tile_geometry(ST_Transform(ST_GeomFromText('POINT(109.595 36.595)', 4326), 3857), ST_TileEnvelope(${z}, ${x}, ${y})::box2d)) t`,
]) console.log((await db.query(q)).rows);
