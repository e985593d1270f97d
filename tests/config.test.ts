import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, tileUrls } from '../server/config.ts';

describe('configuration', () => {
  it('has defaults for a bare machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3000, DATA_DIR: './.data', GRIDMAP_DEMO: 'on' });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', PORT: '' });
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL: must be a postgres/],
    [{ GRIDMAP_DEMO: 'yes' }, /GRIDMAP_DEMO/],
    [{ BASEMAP_TILES: 'https://example.org/tiles.png' }, /BASEMAP_TILES: must have \{z\}, \{x\} and \{y\}/],
    [{ BASEMAP_TILES: 'https://example.org/{z}/{x}.png' }, /BASEMAP_TILES: must have \{z\}, \{x\} and \{y\}/],
    [{ BASEMAP_TILES: 'ftp://example.org/{z}/{x}/{y}.png' }, /BASEMAP_TILES: must be an http\(s\) tile URL/],
    [{ BASEMAP_TILES: 'https://t{s}.example.org/{z}/{x}/{y}.png' }, /BASEMAP_TILES: has \{s\}: set BASEMAP_SUBDOMAINS/],
    [
      { BASEMAP_TILES: 'https://example.org/{z}/{x}/{y}.png', BASEMAP_LABELS: 'https://t{s}.example.org/{z}/{x}/{y}.png' },
      /BASEMAP_LABELS: has \{s\}: set BASEMAP_SUBDOMAINS/,
    ],
    [{ BASEMAP_LABELS: 'https://example.org/{z}/{x}/{y}.png' }, /BASEMAP_LABELS: labels go over a basemap/],
    [
      { BASEMAP_TILES: 'https://t{s}.example.org/{z}/{x}/{y}.png', BASEMAP_SUBDOMAINS: '0, 1' },
      /BASEMAP_SUBDOMAINS: must be subdomain names/,
    ],
    [{ BASEMAP_CRS: 'bd09' }, /BASEMAP_CRS/],
    [{ GRIDMAP_ADMIN_PASSWORD: 'short' }, /GRIDMAP_ADMIN_PASSWORD: must have at least 10 characters/],
    [{ CORS_ORIGINS: '*' }, /CORS_ORIGINS/],
    [{ SESSION_HOURS: '0' }, /SESSION_HOURS/],
    [{ SESSION_HOURS: 'Infinity' }, /SESSION_HOURS: must be a number written in decimals/],
    // Number() would read these as 80, 0 and 1000
    [{ PORT: '0x50' }, /PORT: must be a number written in decimals/],
    [{ PORT: '   ' }, /PORT: must be a number written in decimals/],
    [{ GRIDMAP_DEMO_SIZE: '1e3' }, /GRIDMAP_DEMO_SIZE: must be a number written in decimals/],
    // whole numbers where the code needs one: a port, a 32-bit seed, seconds stored in an integer column
    [{ PORT: '80.5' }, /PORT: must be a whole number/],
    [{ GRIDMAP_DEMO_SEED: '1.5' }, /GRIDMAP_DEMO_SEED: must be a whole number/],
    [{ GRIDMAP_DEMO_SEED: '4294967296' }, /GRIDMAP_DEMO_SEED/],
    [{ DISPATCH_TIMEOUT_SECONDS: '1.5' }, /DISPATCH_TIMEOUT_SECONDS: must be a whole number/],
    [{ DISPATCH_TIMEOUT_SECONDS: '86401' }, /DISPATCH_TIMEOUT_SECONDS/],
    [{ SERVICE_AREA: '108.9,36.2,110.2' }, /SERVICE_AREA: must be west,south,east,north/],
    [{ SERVICE_AREA: '110.2,36.2,108.9,37.1' }, /SERVICE_AREA: must have west < east/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("takes both of Tianditu's tile templates, with {s} for its subdomains and placeholders in any order", () => {
    const wmts =
      'http://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY';
    const dataServer = 'http://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY';
    const labels =
      'http://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY';
    for (const template of [wmts, dataServer]) {
      expect(loadConfig({ BASEMAP_TILES: template, BASEMAP_LABELS: labels, BASEMAP_SUBDOMAINS: '0,1,2,3,4,5,6,7' })).toMatchObject({
        BASEMAP_TILES: template,
        BASEMAP_LABELS: labels,
        BASEMAP_SUBDOMAINS: '0,1,2,3,4,5,6,7',
        BASEMAP_CRS: 'wgs84',
      });
    }
    expect(tileUrls(dataServer, '0,1,2,3,4,5,6,7')).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => `http://t${n}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY`),
    );
    expect(tileUrls('https://example.org/{z}/{x}/{y}.png', '0,1')).toEqual(['https://example.org/{z}/{x}/{y}.png']);
    expect(
      loadConfig({
        BASEMAP_TILES: 'https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}',
        BASEMAP_SUBDOMAINS: '1,2,3,4',
        BASEMAP_CRS: 'gcj02',
      }).BASEMAP_CRS,
    ).toBe('gcj02');
  });

  it('takes a service area, China by default', () => {
    expect(loadConfig({}).SERVICE_AREA).toEqual([73.4, 3.3, 135.1, 53.6]);
    expect(loadConfig({ SERVICE_AREA: '108.9,36.2,110.2,37.1' }).SERVICE_AREA).toEqual([108.9, 36.2, 110.2, 37.1]);
  });

  it('reads numbers as the code uses them: fractions of an hour and of the demo city, whole ports and seeds', () => {
    expect(
      loadConfig({
        SESSION_HOURS: '1.5',
        GRIDMAP_DEMO_SIZE: '0.5',
        PORT: ' 8080 ',
        GRIDMAP_DEMO_SEED: '4294967295',
        DISPATCH_TIMEOUT_SECONDS: '86400',
      }),
    ).toMatchObject({
      SESSION_HOURS: 1.5,
      GRIDMAP_DEMO_SIZE: 0.5,
      PORT: 8080,
      GRIDMAP_DEMO_SEED: 4294967295,
      DISPATCH_TIMEOUT_SECONDS: 86400,
    });
  });

  it('reads TRUST_PROXY as express means it: a hop count, true/false, or addresses', () => {
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
  });
});
