/**
 * What went wrong, in the domain's words: a stable code a client can translate, the values it names, and an
 * English sentence. Features throw these; server/http/problem.ts alone turns them into problem+json, so no
 * feature needs to know HTTP. Each code has one kind (which the HTTP layer maps to a status) and one short
 * English title.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'stale'
  | 'too_large'
  | 'unsupported_media'
  | 'unprocessable'
  | 'version_required'
  | 'rate_limited'
  | 'internal'
  | 'unavailable';

interface ErrorSpec {
  kind: ErrorKind;
  title: string;
}

export const ERRORS = {
  // a request's own parts: parameters, headers, body
  'request.invalid_parameter': { kind: 'invalid', title: 'Invalid parameter' },
  'request.unknown_parameter': { kind: 'invalid', title: 'Unknown parameter' },
  'request.invalid_if_match': { kind: 'invalid', title: 'Invalid If-Match' },
  'request.invalid_header': { kind: 'invalid', title: 'Invalid header' },
  'request.missing_body': { kind: 'invalid', title: 'Missing body' },
  'request.invalid_body': { kind: 'invalid', title: 'Invalid body' },
  'request.malformed_json': { kind: 'invalid', title: 'Malformed JSON' },
  'request.body_too_large': { kind: 'too_large', title: 'Request body too large' },
  'request.nul_character': { kind: 'invalid', title: 'Invalid value' },
  'request.read_only_property': { kind: 'invalid', title: 'Read-only property' },
  'request.rejected': { kind: 'invalid', title: 'Bad Request' },
  'request.no_route': { kind: 'not_found', title: 'Not Found' },
  'request.stale_version': { kind: 'stale', title: 'Precondition Failed' },
  'server.internal': { kind: 'internal', title: 'Internal Server Error' },
  // what the database refused (server/http/problem.ts reads its error codes)
  'database.unavailable': { kind: 'unavailable', title: 'Database unavailable' },
  'database.timeout': { kind: 'unavailable', title: 'Took too long' },
  'database.taken': { kind: 'conflict', title: 'Conflict' },
  'database.still_referenced': { kind: 'conflict', title: 'Still referenced' },
  'database.unknown_reference': { kind: 'unprocessable', title: 'Unknown reference' },
  'database.codes_do_not_nest': { kind: 'unprocessable', title: 'Codes do not nest' },
  'database.not_allowed': { kind: 'unprocessable', title: 'Invalid value' },
  'database.missing_value': { kind: 'invalid', title: 'Missing value' },
  'database.invalid_value': { kind: 'invalid', title: 'Invalid value' },
  // who may do what
  'auth.unauthenticated': { kind: 'unauthenticated', title: 'Unauthorized' },
  'auth.read_only_key': { kind: 'forbidden', title: 'Read-only key' },
  'access.forbidden': { kind: 'forbidden', title: 'Forbidden' },
  'access.outside_scope': { kind: 'forbidden', title: 'Outside your scope' },
  'access.forbidden_property': { kind: 'forbidden', title: 'Forbidden property' },
  'resource.not_found': { kind: 'not_found', title: 'Not Found' },
  'layer.not_found': { kind: 'not_found', title: 'Not Found' },
  'geometry.invalid': { kind: 'unprocessable', title: 'Invalid geometry' },
  // accounts and keys
  'account.not_found': { kind: 'not_found', title: 'Not Found' },
  'account.invalid_credentials': { kind: 'unauthenticated', title: 'Invalid credentials' },
  'account.too_many_failed_logins': { kind: 'rate_limited', title: 'Too many failed logins' },
  'account.unknown_scope': { kind: 'unprocessable', title: 'Unknown scope' },
  'account.scope_not_for_admin': { kind: 'invalid', title: 'Invalid scope' },
  'account.missing_scope': { kind: 'invalid', title: 'Missing scope' },
  'account.grid_scope_required': { kind: 'unprocessable', title: 'Invalid scope' },
  'account.missing_member': { kind: 'invalid', title: 'Missing member' },
  'account.not_a_volunteer': { kind: 'unprocessable', title: 'Not a volunteer' },
  'account.last_admin': { kind: 'conflict', title: 'Last admin' },
  'account.too_many_keys': { kind: 'conflict', title: 'Too many keys' },
  'account.key_not_found': { kind: 'not_found', title: 'Not Found' },
  // the map's areas
  'district.not_found': { kind: 'not_found', title: 'Not Found' },
  'district.has_streets': { kind: 'conflict', title: 'District has streets' },
  'street.not_found': { kind: 'not_found', title: 'Not Found' },
  'street.has_communities': { kind: 'conflict', title: 'Street has communities' },
  'community.not_found': { kind: 'not_found', title: 'Not Found' },
  'community.has_grids': { kind: 'conflict', title: 'Community has grids' },
  'grid.not_found': { kind: 'not_found', title: 'Not Found' },
  'grid.outside_community': { kind: 'unprocessable', title: 'Grid outside its community' },
  'grid.overlap': { kind: 'unprocessable', title: 'Grids overlap' },
  'grid.has_buildings': { kind: 'conflict', title: 'Grid holds buildings' },
  'grid.unknown_merge_target': { kind: 'unprocessable', title: 'Unknown grid' },
  'grid.not_adjacent': { kind: 'unprocessable', title: 'Grids not adjacent' },
  'member.not_found': { kind: 'not_found', title: 'Not Found' },
  'volunteer.no_member_record': { kind: 'conflict', title: 'No member record' },
  // planning grid boundaries
  'planning.grid_of_another_community': { kind: 'unprocessable', title: 'Grid of another community' },
  'planning.no_grid_codes_left': { kind: 'unprocessable', title: 'No grid codes left' },
  'planning.grid_has_accounts': { kind: 'conflict', title: 'Grid has accounts' },
  'planning.version_required': { kind: 'version_required', title: 'Precondition Required' },
  'planning.line_does_not_cut': { kind: 'unprocessable', title: 'Line does not cut the grid' },
  'planning.grids_of_different_communities': { kind: 'unprocessable', title: 'Grids of different communities' },
  'planning.unknown_version': { kind: 'unprocessable', title: 'Unknown version' },
  'planning.community_in_several_parts': { kind: 'unprocessable', title: 'Community in several parts' },
  'planning.too_many_grids': { kind: 'unprocessable', title: 'Too many grids' },
  'planning.community_cannot_be_cut': { kind: 'unprocessable', title: 'Community cannot be cut' },
  'planning.sliver': { kind: 'unprocessable', title: 'Sliver' },
  'planning.grid_with_hole': { kind: 'unprocessable', title: 'Grid with a hole' },
  'planning.grid_falls_apart': { kind: 'unprocessable', title: 'Grid falls apart' },
  // issues, their walls and photos
  'issue.not_found': { kind: 'not_found', title: 'Not Found' },
  'issue.category_not_found': { kind: 'not_found', title: 'Not Found' },
  'issue.not_on_your_wall': { kind: 'forbidden', title: 'Not on your wall' },
  'issue.taken_up': { kind: 'conflict', title: 'Taken up' },
  'issue.step_not_allowed': { kind: 'conflict', title: 'Step not allowed' },
  'issue.forbidden': { kind: 'forbidden', title: 'Forbidden' },
  'issue.unknown_duplicate': { kind: 'unprocessable', title: 'Unknown issue' },
  'issue.duplicate_of_itself': { kind: 'unprocessable', title: 'Invalid value' },
  'issue.extension_not_allowed': { kind: 'conflict', title: 'Extension not allowed' },
  'issue.extension_forbidden': { kind: 'forbidden', title: 'Extension not allowed' },
  'issue.extension_not_found': { kind: 'not_found', title: 'Not Found' },
  'issue.already_decided': { kind: 'conflict', title: 'Already decided' },
  'issue.photo_not_found': { kind: 'not_found', title: 'Not Found' },
  'issue.photo_type_unsupported': { kind: 'unsupported_media', title: 'Unsupported Media Type' },
  'issue.photo_type_mismatch': { kind: 'unsupported_media', title: 'Not that kind of picture' },
  'issue.too_many_photos': { kind: 'conflict', title: 'Too many photos' },
  'wall.not_found': { kind: 'not_found', title: 'Not Found' },
  'wall.forbidden': { kind: 'forbidden', title: 'Forbidden' },
  // dispatch
  'dispatch.not_found': { kind: 'not_found', title: 'Not Found' },
  'dispatch.no_request': { kind: 'not_found', title: 'Not Found' },
  'dispatch.unknown_action': { kind: 'not_found', title: 'Not Found' },
  'dispatch.issue_settled': { kind: 'conflict', title: 'Issue settled' },
  'dispatch.already_dispatched': { kind: 'conflict', title: 'Already dispatched' },
  'dispatch.forbidden': { kind: 'forbidden', title: 'Forbidden' },
  'dispatch.offer_expired': { kind: 'conflict', title: 'Offer expired' },
  'dispatch.wrong_state': { kind: 'conflict', title: 'Conflict' },
  'dispatch.on_a_dispatch': { kind: 'conflict', title: 'On a dispatch' },
  // import
  'import.not_found': { kind: 'not_found', title: 'Not Found' },
  'import.too_large': { kind: 'too_large', title: 'Too large' },
  'import.unknown_crs': { kind: 'unprocessable', title: 'Unknown coordinate system' },
  'import.server_stopping': { kind: 'unavailable', title: 'Server stopping' },
  'import.unknown_community': { kind: 'unprocessable', title: 'Unknown community' },
  'import.outside_community': { kind: 'unprocessable', title: 'Outside the community' },
  'import.unknown_column': { kind: 'unprocessable', title: 'Unknown column' },
  'import.unknown_format': { kind: 'unsupported_media', title: 'Unknown format' },
  'import.rows_rejected': { kind: 'unprocessable', title: 'Rows rejected' },
  'import.upload_interrupted': { kind: 'invalid', title: 'Upload interrupted' },
  'import.in_progress': { kind: 'conflict', title: 'Import in progress' },
  'import.idempotency_key_reused': { kind: 'unprocessable', title: 'Idempotency-Key reused' },
  'import.merged_header': { kind: 'invalid', title: 'Merged header' },
  'import.unreadable_file': { kind: 'invalid', title: 'Unreadable file' },
  'import.unknown_encoding': { kind: 'unprocessable', title: 'Unknown encoding' },
  // the services other programs use: OGC API, tiles, Open311
  'ogc.collection_not_found': { kind: 'not_found', title: 'Not Found' },
  'ogc.feature_not_found': { kind: 'not_found', title: 'Not Found' },
  'ogc.forbidden': { kind: 'forbidden', title: 'Forbidden' },
  'tile.layer_not_found': { kind: 'not_found', title: 'Not Found' },
  'tile.not_found': { kind: 'not_found', title: 'Not Found' },
  'tile.forbidden': { kind: 'forbidden', title: 'Forbidden' },
  'open311.jurisdiction_not_found': { kind: 'not_found', title: 'Not Found' },
  'open311.service_not_found': { kind: 'not_found', title: 'Not Found' },
  'open311.request_not_found': { kind: 'not_found', title: 'Not Found' },
  'open311.unknown_format': { kind: 'not_found', title: 'Not Found' },
  'open311.key_not_found': { kind: 'not_found', title: 'Not Found' },
  'open311.forbidden': { kind: 'forbidden', title: 'Forbidden' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Every code the server can raise: the web's translation tables are checked against this list. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export type ErrorParams = Record<string, string | number | boolean | null>;

export class DomainError extends Error {
  /**
   * `extensions` are the values a client acts on (`field`, `limit`, a report), kept as they are; `params` are
   * what a translation of the code names, by default the extensions' plain values.
   */
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    private readonly named: ErrorParams = {},
    /** seconds after which trying again may succeed */
    readonly retryAfter?: number,
  ) {
    super(detail);
  }

  get params(): ErrorParams {
    return { ...plainValues(this.extensions), ...this.named };
  }

  get kind(): ErrorKind {
    return ERRORS[this.code].kind;
  }
  get title(): string {
    return ERRORS[this.code].title;
  }
}

const plainValues = (values: Record<string, unknown>): ErrorParams =>
  Object.fromEntries(
    Object.entries(values).filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v)),
  ) as ErrorParams;

export const invalidParameter = (field: string, detail: string) => new DomainError('request.invalid_parameter', detail, { field });
