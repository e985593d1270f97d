// Written by `npm run schema` from a migrated database (server/db/schema-types.ts): do not edit.
import type { ColumnType, GeneratedAlways } from 'kysely';

/** Kysely's Generated, but a column type's own (Timestamp's) select and update types kept: a defaulted time reads as a Date. */
export type Generated<T> = [T] extends [ColumnType<infer S, infer I, infer U>] ? ColumnType<S, I | undefined, U> : ColumnType<T, T | undefined, T>;

/** Geometry (and geography) columns are read through ST_AsGeoJSON and written through ST_GeomFromGeoJSON. */
export type Geometry = ColumnType<unknown, string, string>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface AuditLog {
  id: GeneratedAlways<number>;
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

export interface BuildingReach {
  building_id: number;
  home: Geometry;
  volunteer_id: number | null;
  metres: number | null;
  disc: Geometry;
  grid_id: number | null;
  community_id: number | null;
  kind: string;
  households: number;
  residents: number;
  has_party_group: boolean;
}

export interface Buildings {
  id: Generated<number>;
  name: string;
  address: string | null;
  kind: Generated<'residential' | 'commercial' | 'shop' | 'school' | 'unit' | 'other'>;
  floors: number | null;
  households: Generated<number>;
  residents: Generated<number>;
  has_party_group: Generated<boolean>;
  party_group_leader: string | null;
  geom: Geometry;
  grid_id: number | null;
  community_id: number | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
  external_id: string | null;
}

export interface Communities {
  id: Generated<number>;
  code: string;
  name: string;
  street_code: string;
  geom: Geometry;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
  party_committee_name: string | null;
  party_committee_secretary: string | null;
  staff_count: number | null;
  grid_households_min: Generated<number>;
  grid_households_max: Generated<number>;
}

export interface DispatchRequests {
  id: Generated<number>;
  issue_id: number;
  k: number;
  skills: Generated<string[]>;
  timeout_s: number;
  requested_by: number | null;
  state: Generated<'open' | 'assigned' | 'done' | 'cancelled'>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
}

export interface DispatchSteps {
  id: GeneratedAlways<number>;
  dispatch_id: number;
  issue_id: number;
  volunteer_id: number;
  state: string;
  distance_m: number;
  at: Generated<Timestamp>;
  user_id: number | null;
  username: string | null;
}

export interface Dispatches {
  id: Generated<number>;
  request_id: number;
  issue_id: number;
  volunteer_id: number;
  state: Generated<'offered' | 'accepted' | 'arrived' | 'finished' | 'declined' | 'timed_out' | 'withdrawn' | 'cancelled'>;
  rank: number;
  distance_m: number;
  offered_at: Generated<Timestamp>;
  expires_at: Timestamp;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
}

export interface Districts {
  id: Generated<number>;
  code: string;
  name: string;
  geom: Geometry | null;
  version: Generated<number>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface Events {
  id: GeneratedAlways<number>;
  at: Generated<Timestamp>;
  kind: 'issue' | 'dispatch' | 'grid';
  issue_id: number | null;
  community_id: number | null;
  grid_id: number | null;
  reported_by: number | null;
  volunteer_id: number | null;
  data: unknown;
  street_code: string | null;
}

export interface GridChanges {
  id: GeneratedAlways<number>;
  community_id: number;
  kind: 'redraw' | 'split' | 'merge' | 'create' | 'revert' | 'plan';
  note: string | null;
  at: Generated<Timestamp>;
  user_id: number | null;
  username: string | null;
  impact: unknown;
}

export interface GridVersions {
  id: GeneratedAlways<number>;
  grid_id: number;
  community_id: number;
  version: number | null;
  code: string;
  name: string;
  at: Generated<Timestamp>;
  user_id: number | null;
  username: string | null;
  change_id: number | null;
  kind: string;
  geom_before: Geometry | null;
  geom_after: Geometry | null;
}

export interface Grids {
  id: Generated<number>;
  community_id: number;
  code: string;
  name: string;
  party_branch_name: string | null;
  party_branch_secretary: string | null;
  grid_worker_name: string | null;
  grid_worker_phone: string | null;
  geom: Geometry;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
}

export interface ImportRows {
  import_id: number;
  row_id: number;
}

export interface Imports {
  id: GeneratedAlways<number>;
  layer: string;
  format: string;
  user_id: number | null;
  username: string;
  idempotency_key: string | null;
  state: Generated<'running' | 'written' | 'checked' | 'rejected' | 'refused' | 'interrupted' | 'failed'>;
  status: number | null;
  answer: unknown;
  started_at: Generated<Timestamp>;
  finished_at: Timestamp | null;
}

export interface IssueCategories {
  id: Generated<number>;
  code: string;
  name: string;
  urgency: 'urgent' | 'general' | 'complex';
  due_hours: number;
  updated_at: Generated<Timestamp>;
}

export interface IssueExtensions {
  id: Generated<number>;
  issue_id: number;
  wall: string;
  hours: number;
  reason: string;
  state: Generated<'pending' | 'approved' | 'refused' | 'withdrawn'>;
  requested_by: number | null;
  requested_at: Generated<Timestamp>;
  decided_by: number | null;
  decided_at: Timestamp | null;
  decision: string | null;
}

export interface IssuePhotos {
  id: Generated<number>;
  issue_id: number;
  kind: 'report' | 'answer';
  content_type: 'image/jpeg' | 'image/png' | 'image/webp';
  byte_size: number;
  sha256: string;
  data: Uint8Array;
  created_by: number | null;
  created_at: Generated<Timestamp>;
}

export interface IssueSteps {
  id: GeneratedAlways<number>;
  issue_id: number;
  at: Generated<Timestamp>;
  action: string;
  from_status: string | null;
  to_status: string | null;
  from_wall: string | null;
  to_wall: string | null;
  note: string | null;
  user_id: number | null;
  username: string | null;
}

export interface IssueTransitions {
  from_status: string;
  to_status: string;
}

export interface Issues {
  id: Generated<number>;
  title: string;
  description: string | null;
  category: string;
  status: Generated<'reported' | 'accepted' | 'in_progress' | 'escalated' | 'resolved' | 'answered' | 'rated' | 'closed' | 'rejected' | 'reopened'>;
  geom: Geometry;
  grid_id: number | null;
  community_id: number | null;
  reported_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  resolved_at: Timestamp | null;
  closed_at: Timestamp | null;
  version: Generated<number>;
  reported_by: number | null;
  wall: Generated<'grid' | 'community' | 'street'>;
  street_code: string | null;
  due_at: Timestamp | null;
  extended_hours: Generated<number>;
  answer: string | null;
  public_title: string | null;
  answered_at: Timestamp | null;
  rating: number | null;
  rating_comment: string | null;
  rated_at: Timestamp | null;
  reopen_count: Generated<number>;
  duplicate_of: number | null;
  media_url: string | null;
}

export interface LoginFailures {
  at: Generated<Timestamp>;
  username: string;
  address: string;
}

export interface MemberCounts {
  community_id: number | null;
  grid_id: number | null;
  members: number;
  members_in_service: number;
  members_retired: number;
  members_floating: number;
  members_resident: number;
  volunteers: number;
  volunteers_available: number;
  central_households: number;
  homes: number;
}

export interface Members {
  id: Generated<number>;
  name: string;
  phone: string | null;
  category: 'in_service' | 'retired' | 'floating' | 'resident';
  registered_community_id: number | null;
  employer_unit: string | null;
  geom: Geometry;
  building_id: number | null;
  grid_id: number | null;
  community_id: number | null;
  is_central_household: Generated<boolean>;
  is_volunteer: Generated<boolean>;
  skills: Generated<string[]>;
  availability: Generated<'available' | 'off_duty' | 'busy'>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
  current_point: Geometry | null;
  current_point_at: Timestamp | null;
  external_id: string | null;
}

export interface MonthlyMatters {
  id: Generated<number>;
  community_id: number;
  month: Timestamp;
  title: string;
  discussion: string | null;
  outcome: string | null;
  issue_id: number | null;
  published_at: Timestamp | null;
  updated_by: number | null;
  updated_at: Generated<Timestamp>;
}

export interface Open311KeyUses {
  key_id: number;
  last_used_at: Timestamp;
}

export interface Open311Keys {
  id: GeneratedAlways<number>;
  name: string;
  token_hash: Uint8Array;
  services: string[];
  created_by: number | null;
  created_at: Generated<Timestamp>;
  revoked_at: Timestamp | null;
}

export interface SchemaMigrations {
  name: string;
  checksum: string;
  applied_at: Generated<Timestamp>;
}

export interface Sessions {
  token_hash: Uint8Array;
  user_id: number;
  created_at: Generated<Timestamp>;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  address: string | null;
  id: GeneratedAlways<number>;
  read_only: Generated<boolean>;
  label: string | null;
}

export interface Streets {
  code: string;
  name: string;
  district_code: string;
  id: Generated<number>;
  geom: Geometry | null;
  boundary_from_communities: Generated<boolean>;
  version: Generated<number>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface Units {
  id: Generated<number>;
  name: string;
  kind: 'enterprise' | 'school' | 'agency' | 'hospital' | 'social_organization' | 'other';
  geom: Geometry;
  community_id: number | null;
  has_agreement: Generated<boolean>;
  agreement_signed_on: Timestamp | null;
  resources: string | null;
  contact_name: string | null;
  contact_phone: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  version: Generated<number>;
  external_id: string | null;
}

export interface Users {
  id: Generated<number>;
  username: string;
  display_name: string | null;
  password_hash: string;
  role: 'admin' | 'planner' | 'dispatcher' | 'leader' | 'grid_worker' | 'volunteer' | 'resident';
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

export interface DB {
  audit_log: AuditLog;
  building_reach: BuildingReach;
  buildings: Buildings;
  communities: Communities;
  dispatch_requests: DispatchRequests;
  dispatch_steps: DispatchSteps;
  dispatches: Dispatches;
  districts: Districts;
  events: Events;
  grid_changes: GridChanges;
  grid_versions: GridVersions;
  grids: Grids;
  import_rows: ImportRows;
  imports: Imports;
  issue_categories: IssueCategories;
  issue_extensions: IssueExtensions;
  issue_photos: IssuePhotos;
  issue_steps: IssueSteps;
  issue_transitions: IssueTransitions;
  issues: Issues;
  login_failures: LoginFailures;
  member_counts: MemberCounts;
  members: Members;
  monthly_matters: MonthlyMatters;
  open311_key_uses: Open311KeyUses;
  open311_keys: Open311Keys;
  schema_migrations: SchemaMigrations;
  sessions: Sessions;
  streets: Streets;
  units: Units;
  users: Users;
}
