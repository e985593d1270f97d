import { sql, type RawBuilder } from 'kysely';

/**
 * The layers the map draws. Each is a row source with `id` and `geom`; every other column becomes
 * a feature property, so a column added by a migration shows up without touching this file.
 */
export const mapLayers = {
  communities: sql`(select c.*, s.name as street_name, s.district_code, s.district_name
                    from communities c join streets s on s.code = c.street_code)`,
  grids: sql`(select g.*, c.name as community_name from grids g join communities c on c.id = g.community_id)`,
  buildings: sql`buildings`,
} satisfies Record<string, RawBuilder<unknown>>;

export type MapLayer = keyof typeof mapLayers;
