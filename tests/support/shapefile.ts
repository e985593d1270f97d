import { zipSync } from 'fflate';

/**
 * A zipped point Shapefile written byte by byte from the ESRI specification (.shp, .shx, .dbf with
 * character fields, .prj, .cpg), so the import is tested against the format, not against a library's
 * idea of it.
 */
export function pointShapefileZip(points: { lon: number; lat: number; fields: Record<string, string> }[], prj: string) {
  const header = (lengthBytes: number) => {
    const b = Buffer.alloc(100);
    b.writeInt32BE(9994, 0);
    b.writeInt32BE(lengthBytes / 2, 24);
    b.writeInt32LE(1000, 28);
    b.writeInt32LE(1, 32); // point
    const xs = points.map((p) => p.lon),
      ys = points.map((p) => p.lat);
    [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].forEach((v, i) => b.writeDoubleLE(v, 36 + i * 8));
    return b;
  };
  const records = points.map((p, i) => {
    const r = Buffer.alloc(28);
    r.writeInt32BE(i + 1, 0);
    r.writeInt32BE(10, 4); // content length in 16-bit words
    r.writeInt32LE(1, 8);
    r.writeDoubleLE(p.lon, 12);
    r.writeDoubleLE(p.lat, 20);
    return r;
  });
  const shp = Buffer.concat([header(100 + 28 * points.length), ...records]);
  const shx = Buffer.concat([
    header(100 + 8 * points.length),
    ...points.map((_, i) => {
      const r = Buffer.alloc(8);
      r.writeInt32BE((100 + 28 * i) / 2, 0);
      r.writeInt32BE(10, 4);
      return r;
    }),
  ]);

  const names = Object.keys(points[0].fields);
  const width = 50;
  const dbfHeader = Buffer.alloc(32);
  dbfHeader.writeUInt8(3, 0);
  dbfHeader.writeUInt8(126, 1);
  dbfHeader.writeUInt8(11, 2);
  dbfHeader.writeUInt8(27, 3);
  dbfHeader.writeUInt32LE(points.length, 4);
  dbfHeader.writeUInt16LE(32 + 32 * names.length + 1, 8);
  dbfHeader.writeUInt16LE(1 + width * names.length, 10);
  const descriptors = names.map((name) => {
    const d = Buffer.alloc(32);
    d.write(name.slice(0, 10), 0, 'ascii');
    d.write('C', 11, 'ascii');
    d.writeUInt8(width, 16);
    return d;
  });
  const rows = points.map((p) => {
    const r = Buffer.alloc(1 + width * names.length, ' ');
    names.forEach((name, i) => {
      const value = Buffer.from(p.fields[name], 'utf8');
      value.copy(r, 1 + i * width, 0, Math.min(value.length, width));
    });
    return r;
  });
  const dbf = Buffer.concat([dbfHeader, ...descriptors, Buffer.from([0x0d]), ...rows, Buffer.from([0x1a])]);
  return Buffer.from(
    zipSync({
      'points.shp': shp,
      'points.shx': shx,
      'points.dbf': dbf,
      'points.prj': Buffer.from(prj),
      'points.cpg': Buffer.from('UTF-8'),
    }),
  );
}

export const WGS84_PRJ =
  'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';
export const GAUSS_KRUGER_PRJ =
  'PROJCS["CGCS2000_3_Degree_GK_CM_111E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["Central_Meridian",111.0],UNIT["Meter",1.0]]';

/**
 * A zipped shapefile written by GDAL's ogr2ogr (gdal-bin, as a city's GIS office would) from a GeoJSON
 * FeatureCollection, with its layer creation options (-lco ENCODING=LDID/77: a GBK DBF marked by its language
 * driver byte and no .cpg; ENCODING=UTF-8: a .cpg). The collection's crs names the .prj GDAL writes.
 */
export async function ogrShapefileZip(collection: object, layerOptions: string[]) {
  const { execFile } = await import('node:child_process');
  const { mkdtemp, readdir, readFile, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-ogr-'));
  try {
    await writeFile(join(dir, 'in.geojson'), JSON.stringify(collection));
    await new Promise<void>((resolve, reject) =>
      execFile(
        'ogr2ogr',
        ['-f', 'ESRI Shapefile', join(dir, 'out.shp'), join(dir, 'in.geojson'), ...layerOptions.flatMap((o) => ['-lco', o])],
        (error, _stdout, stderr) => (error ? reject(new Error(`ogr2ogr: ${stderr}`)) : resolve()),
      ),
    );
    const files: Record<string, Uint8Array> = {};
    for (const name of await readdir(dir))
      if (name.startsWith('out.')) files[name.replace('out.', 'fixture.')] = await readFile(join(dir, name));
    return files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
