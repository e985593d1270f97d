import { z } from 'zod';
import { CHINA, type Extent } from './domain/geojson.ts';

const onOff = z.enum(['on', 'off']);
/** A number written in decimals: Number() would read "0x50" as 80, "1e3" as 1000 and a blank as 0. */
const decimal = (number: z.ZodNumber) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number written in decimals')
    .transform(Number)
    .pipe(number);
const whole = (min: number, max: number) => decimal(z.number().int('must be a whole number').min(min).max(max));

/**
 * A raster tile URL as cities' tile servers have them: {z}, {x} and {y} anywhere and in any order (a WMTS
 * request's TILEMATRIX={z}&TILEROW={y}&TILECOL={x}, Tianditu's x={x}&y={y}&l={z}), and {s} for a subdomain.
 */
const tileTemplate = z
  .string()
  .regex(/^https?:\/\//, 'must be an http(s) tile URL template')
  .refine(
    (v) => ['{z}', '{x}', '{y}'].every((p) => v.includes(p)),
    "must have {z}, {x} and {y} (in any order) where the tile's zoom, column and row go",
  )
  .refine((v) => URL.canParse(v.replace(/\{[zxys]\}/g, '0')), 'must be a URL once {z}, {x}, {y} and {s} are filled in');

/** A template's URLs, one per subdomain when it has {s}: MapLibre takes a list, not Leaflet's {s}. */
export const tileUrls = (template: string, subdomains: string | undefined) =>
  template.includes('{s}') ? (subdomains ?? '').split(',').map((s) => template.replaceAll('{s}', s)) : [template];

const schema = z
  .object({
    PORT: whole(0, 65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATA_DIR: z.string().min(1).default('./.data'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    GRIDMAP_DEMO: onOff.default('on'),
    /** the demo city's random generator takes 32 bits: a larger seed would repeat a smaller one's city */
    GRIDMAP_DEMO_SEED: whole(0, 2 ** 32 - 1).default(1),
    GRIDMAP_DEMO_SIZE: decimal(z.number().min(0.05).max(200)).default(1),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BASEMAP_TILES: tileTemplate.optional(),
    /** Tianditu's annotation tiles (cva_w), drawn over the basemap and under Gridmap's layers */
    BASEMAP_LABELS: tileTemplate.optional(),
    /** what {s} in the templates stands for, one tile server each: 0,1,2,3,4,5,6,7 for Tianditu's t0..t7 */
    BASEMAP_SUBDOMAINS: z
      .string()
      .regex(/^[\w-]+(,[\w-]+)*$/, 'must be subdomain names separated by commas, e.g. 0,1,2,3,4,5,6,7')
      .optional(),
    /** the datum of the basemap's tiles: gcj02 for AMap's and Tencent's, which the web then shifts onto WGS 84 */
    BASEMAP_CRS: z.enum(['wgs84', 'gcj02']).default('wgs84'),
    BASEMAP_ATTRIBUTION: z.string().optional(),
    /** each answer checked against its route's declared schema, a mismatch a 500 (the tests run so; a parse per answer) */
    GRIDMAP_CHECK_ANSWERS: onOff.default('off'),
    /** creates user `admin` with this password at start when no admin exists */
    GRIDMAP_ADMIN_PASSWORD: z.string().min(10, 'must have at least 10 characters').max(200).optional(),
    /** how long a volunteer has to answer a dispatch offer before it passes to the next nearest */
    DISPATCH_TIMEOUT_SECONDS: whole(1, 86400).default(300),
    /** fractions too (1.5 is 90 minutes): a session is opened for hours × 3600 seconds */
    SESSION_HOURS: decimal(
      z
        .number()
        .min(0.01)
        .max(24 * 90),
    ).default(12),
    /** origins allowed to call the API from a browser, comma-separated; none unless set */
    CORS_ORIGINS: z
      .string()
      .regex(/^https?:\/\/[^,\s]+(,https?:\/\/[^,\s]+)*$/, 'must be http(s) origins separated by commas')
      .optional(),
    /** the jurisdiction_id Open311 clients may send (GeoReport v2 at /open311/v2 serves this one) */
    OPEN311_JURISDICTION: z
      .string()
      .regex(/^[A-Za-z0-9][\w.-]{0,99}$/, 'must be an id such as gridmap or city.gov.cn: letters, digits, dots, dashes and underscores')
      .default('gridmap'),
    /** where clients reach the server (e.g. https://grid.example.gov.cn), for the absolute links it writes; else each request's own */
    PUBLIC_URL: z
      .string()
      .url()
      .regex(/^https?:\/\/[^/]+$/, 'must be an http(s) origin without a path or a trailing slash')
      .optional(),
    /** express's trust proxy setting (e.g. loopback, or a hop count) when behind a reverse proxy */
    /** where buildings, homes, units and issues may lie: west,south,east,north in degrees (default China's extent) */
    SERVICE_AREA: z
      .string()
      .regex(/^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$/, 'must be west,south,east,north in degrees, e.g. 108.9,36.2,110.2,37.1')
      .transform((v) => v.split(',').map(Number) as Extent)
      .refine(
        ([west, south, east, north]) => west >= -180 && east <= 180 && south >= -90 && north <= 90 && west < east && south < north,
        'must have west < east within -180..180 and south < north within -90..90',
      )
      .default(CHINA),
    TRUST_PROXY: z
      .string()
      .transform((v): string | number | boolean => (/^\d+$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v))
      .optional(),
  })
  .superRefine((config, context) => {
    for (const setting of ['BASEMAP_TILES', 'BASEMAP_LABELS'] as const) {
      if (config[setting]?.includes('{s}') && !config.BASEMAP_SUBDOMAINS) {
        context.addIssue({
          code: 'custom',
          path: [setting],
          message: 'has {s}: set BASEMAP_SUBDOMAINS to what it stands for (e.g. 0,1,2,3,4,5,6,7)',
        });
      }
    }
    if (config.BASEMAP_LABELS && !config.BASEMAP_TILES) {
      context.addIssue({ code: 'custom', path: ['BASEMAP_LABELS'], message: 'labels go over a basemap: set BASEMAP_TILES too' });
    }
  });

export type Config = z.infer<typeof schema>;

/** Reads the environment once at start; a bad value stops the server with a message naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' habits.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export class ConfigError extends Error {}
