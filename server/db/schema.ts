// The tables' types are generated from the migrated database (`npm run schema` writes tables.generated.ts;
// a test fails when it is not current). The names the code gives a column's values are read from them.
import type { Selectable } from 'kysely';
import type { Buildings, Members } from './tables.generated.ts';

export type { DB, Geometry, Timestamp } from './tables.generated.ts';
export type BuildingKind = Selectable<Buildings>['kind'];
export type MemberCategory = Selectable<Members>['category'];
