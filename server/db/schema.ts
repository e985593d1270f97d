import type { ColumnType, Generated } from 'kysely';

/** Geometry columns are read through ST_AsGeoJSON and written through ST_GeomFromGeoJSON. */
type Geometry = ColumnType<unknown, string, string>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface DistrictTable {
  id: Generated<number>;
  code: string;
  name: string;
  geom: Geometry | null;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface StreetTable {
  id: Generated<number>;
  code: string;
  name: string;
  district_code: string;
  /** null: the union of its communities (street_boundary, sql/021_areas.sql) */
  geom: Geometry | null;
  boundary_from_communities: Generated<boolean>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CommunityTable {
  id: Generated<number>;
  code: string;
  name: string;
  street_code: string;
  geom: Geometry;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GridTable {
  id: Generated<number>;
  community_id: number;
  code: string;
  name: string;
  party_branch_name: string | null;
  party_branch_secretary: string | null;
  grid_worker_name: string | null;
  grid_worker_phone: string | null;
  geom: Geometry;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type BuildingKind = 'residential' | 'commercial' | 'shop' | 'school' | 'unit' | 'other';

export interface BuildingTable {
  id: Generated<number>;
  name: string;
  address: string | null;
  kind: BuildingKind;
  floors: number | null;
  households: number;
  residents: number;
  has_party_group: boolean;
  party_group_leader: string | null;
  external_id: string | null;
  geom: Geometry;
  grid_id: number | null;
  community_id: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type MemberCategory = 'in_service' | 'retired' | 'floating' | 'resident';
export type Availability = 'available' | 'off_duty' | 'busy';

export interface MemberTable {
  id: Generated<number>;
  name: string;
  phone: string | null;
  category: MemberCategory;
  registered_community_id: number | null;
  employer_unit: string | null;
  geom: Geometry;
  building_id: number | null;
  grid_id: number | null;
  community_id: number | null;
  is_central_household: boolean;
  is_volunteer: boolean;
  skills: string[];
  availability: Availability;
  external_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UnitTable {
  id: Generated<number>;
  name: string;
  kind: 'enterprise' | 'school' | 'agency' | 'hospital' | 'social_organization' | 'other';
  geom: Geometry;
  community_id: number | null;
  has_agreement: boolean;
  agreement_signed_on: ColumnType<Date | null, string | null, string | null>;
  resources: string | null;
  contact_name: string | null;
  contact_phone: string | null;
  external_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface IssueTable {
  id: Generated<number>;
  title: string;
  description: string | null;
  category: string;
  status: string;
  geom: Geometry;
  grid_id: number | null;
  community_id: number | null;
  reported_at: Timestamp;
  reported_by: number | null;
  updated_at: Timestamp;
  resolved_at: Timestamp | null;
  closed_at: Timestamp | null;
}

export interface UserTable {
  id: Generated<number>;
  username: string;
  display_name: string | null;
  password_hash: string;
  role: string;
  scope_district_code: string | null;
  scope_street_code: string | null;
  scope_community_id: number | null;
  scope_grid_id: number | null;
  member_id: number | null;
  disabled: Generated<boolean>;
  version: Generated<number>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface SessionTable {
  token_hash: Buffer;
  id: Generated<string>;
  user_id: number;
  created_at: Generated<Timestamp>;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  address: string | null;
  read_only: Generated<boolean>;
  label: string | null;
}

export interface LoginFailureTable {
  at: Generated<Timestamp>;
  username: string;
  address: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Generated<Timestamp>;
  user_id: number | null;
  username: string | null;
  request_id: string | null;
  db_user: Generated<string>;
  txid: Generated<number>;
  action: 'create' | 'update' | 'delete';
  resource: string;
  row_id: number;
  before: unknown;
  after: unknown;
}

export interface DB {
  districts: DistrictTable;
  streets: StreetTable;
  communities: CommunityTable;
  grids: GridTable;
  buildings: BuildingTable;
  members: MemberTable;
  units: UnitTable;
  issues: IssueTable;
  users: UserTable;
  sessions: SessionTable;
  login_failures: LoginFailureTable;
  audit_log: AuditLogTable;
}
