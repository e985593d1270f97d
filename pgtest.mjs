import { PGlite } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
let t=Date.now();
const db = await PGlite.create({ dataDir: '/tmp/pgl1', extensions: { postgis } });
console.log('create', Date.now()-t); t=Date.now();
await db.exec('CREATE EXTENSION IF NOT EXISTS postgis');
console.log('ext', Date.now()-t);
const r = await db.query("select postgis_full_version() v, 1::bigint b, count(*) c, now() t, '{\"a\":1}'::json j, 1.5::numeric n from pg_class");
console.log(r.rows);
try { await db.query("select ST_AsMVT(q) from (select 1 as a, ST_AsMVTGeom('POINT(0 0)'::geometry, ST_MakeEnvelope(0,0,1,1)) g) q"); } catch(e) { console.log('mvt err', e.message); }
const r2 = await db.query("select 1 as ok"); console.log(r2.rows);
t=Date.now(); const dump = await db.dumpDataDir('gzip'); console.log('dump', Date.now()-t, dump.size);
await db.close();
t=Date.now(); const db2 = await PGlite.create({ loadDataDir: dump, extensions: { postgis } }); console.log('restore', Date.now()-t);
console.log((await db2.query("select ST_AsText(ST_Buffer('POINT(0 0)'::geometry, 1, 2)) a")).rows);
