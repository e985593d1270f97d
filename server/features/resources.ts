import type { ResourceDefinition } from '../access/resource.ts';
import { districts, streets } from './areas/resource.ts';
import { buildings } from './buildings/resource.ts';
import { communities } from './communities/resource.ts';
import { grids } from './grids/resource.ts';
import { issues } from './issues/resource.ts';
import { members } from './members/resource.ts';
import { units } from './units/resource.ts';

/** Every map resource, in the order a city loads them (a street needs its district, a community its street, a grid its community, a member its building). */
export const RESOURCES: ResourceDefinition[] = [districts, streets, communities, grids, buildings, members, units, issues];
