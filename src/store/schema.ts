import type { ColumnType, Generated } from 'kysely'

/** Row shapes of Rewind's tables. bigint columns are read as strings (see database.ts). */
type BigId = ColumnType<string, string | number, never>
type Json = ColumnType<unknown, string, never>
type Timestamp = ColumnType<Date, Date | string | undefined, never>

export interface EntityTypeTable {
  tenant: string
  type: string
  revision: number
  definition: ColumnType<unknown, string, string>
  created_at: Timestamp
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface EntityTypeRevisionTable {
  tenant: string
  type: string
  revision: number
  definition: Json
  /** The operations of a revision made by a migration (null: made by a PUT). */
  operations: ColumnType<unknown, string | null | undefined, never>
  created_at: Timestamp
}

export interface TransactionTable {
  id: ColumnType<string, never, never>
  tenant: string
  issued_at: Timestamp
  recorded_at: Timestamp
  actor: string | null
  meta: Json
  revert_of: ColumnType<unknown, string | null, never>
  recorded_by: ColumnType<unknown, string | null, never>
}

export interface VersionTable {
  tenant: string
  type: string
  entity_key: string
  transaction_id: BigId
  seq: number
  position: number
  operation: 'insert' | 'update' | 'delete'
  data: Json
  changeset: Json
  /** The type revision the version was recorded under (null: before migrations existed). */
  revision: ColumnType<number | null, number | null | undefined, never>
}

export interface ReferenceTable {
  tenant: string
  target_type: string
  target_key: string
  source_type: string
  source_field: string
  source_key: string
  transaction_id: BigId
}

/** Where an entity's history lies (migration 0011): its first and newest versions' transactions, kept by every append. */
export interface EntityHeadTable {
  tenant: string
  type: string
  entity_key: string
  first_transaction_id: BigId
  last_transaction_id: BigId
}

export interface IdempotencyKeyTable {
  tenant: string
  api_key_id: string
  key: string
  request_hash: string
  status_code: number | null
  response: ColumnType<unknown, string | null, string>
  created_at: Generated<Date>
}

export interface ApiKeyTable {
  id: string
  tenant: string
  name: string
  scopes: ColumnType<string[], string, never>
  secret_hash: string
  created_at: Timestamp
  revoked_at: ColumnType<Date | null, never, Date>
}

export interface ViewerTokenTable {
  id: string
  tenant: string
  secret_hash: string
  issued_by: string
  type: string | null
  entity_key: string | null
  expires_at: ColumnType<Date, Date | string, never>
  created_at: Timestamp
}

export interface Database {
  api_keys: ApiKeyTable
  viewer_tokens: ViewerTokenTable
  entity_types: EntityTypeTable
  entity_type_revisions: EntityTypeRevisionTable
  transactions: TransactionTable
  versions: VersionTable
  version_refs: ReferenceTable
  entity_heads: EntityHeadTable
  idempotency_keys: IdempotencyKeyTable
}
