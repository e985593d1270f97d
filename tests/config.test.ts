import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.ts';

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
    [{ BASEMAP_TILES: 'https://example.org/tiles.png' }, /BASEMAP_TILES/],
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

  it('takes a service area, China by default', () => {
    expect(loadConfig({}).SERVICE_AREA).toEqual([73.4, 3.3, 135.1, 53.6]);
    expect(loadConfig({ SERVICE_AREA: '108.9,36.2,110.2,37.1' }).SERVICE_AREA).toEqual([108.9, 36.2, 110.2, 37.1]);
  });

  it('reads numbers as the code uses them: fractions of an hour and of the demo city, whole ports and seeds', () => {
    expect(loadConfig({ SESSION_HOURS: '1.5', GRIDMAP_DEMO_SIZE: '0.5', PORT: ' 8080 ', GRIDMAP_DEMO_SEED: '4294967295', DISPATCH_TIMEOUT_SECONDS: '86400' }))
      .toMatchObject({ SESSION_HOURS: 1.5, GRIDMAP_DEMO_SIZE: 0.5, PORT: 8080, GRIDMAP_DEMO_SEED: 4294967295, DISPATCH_TIMEOUT_SECONDS: 86400 });
  });

  it('reads TRUST_PROXY as express means it: a hop count, true/false, or addresses', () => {
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
  });
});
