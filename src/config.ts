import { envSchema } from 'env-schema'
import { Type, type Static } from 'typebox'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
type LogLevel = typeof LOG_LEVELS[number]

const ConfigSchema = Type.Object({
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  HOST: Type.String({ default: '0.0.0.0' }),
  // Empty counts as unset (the embedded database).
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(postgres(ql)?://.*)?$' })),
  // A read replica (hot standby) of DATABASE_URL that history reads are answered from; empty: none.
  DATABASE_READ_URL: Type.Optional(Type.String({ pattern: '^(postgres(ql)?://.*)?$' })),
  DATA_DIR: Type.String({ default: './data' }),
  LOG_LEVEL: Type.Unsafe<LogLevel>({ type: 'string', enum: LOG_LEVELS, default: 'info' }),
  BODY_LIMIT: Type.Integer({ default: 5 * 1024 * 1024, minimum: 1024 }),
  DB_POOL_SIZE: Type.Integer({ default: 10, minimum: 1 }),
  IDEMPOTENCY_RETENTION_HOURS: Type.Integer({ default: 24, minimum: 1 }),
  LATEST_CACHE_MB: Type.Number({ default: 64, minimum: 0 }),
  // Group commits run at once; appends that wait for one are written together (0: each write commits alone).
  GROUP_COMMITS: Type.Integer({ default: 2, minimum: 0 }),
  // The admin key of the first start, instead of a generated one (at least 32 characters).
  REWIND_BOOTSTRAP_KEY: Type.Optional(Type.String({ minLength: 32 })),
  RATE_LIMIT_PER_SECOND: Type.Integer({ default: 10_000, minimum: 1 }),
  MAX_CHANGES: Type.Integer({ default: 10_000, minimum: 1 }),
  MAX_RELATIONS: Type.Integer({ default: 64, minimum: 1 }),
  MAX_REVERT_ENTITIES: Type.Integer({ default: 10_000, minimum: 1 }),
  MAX_CONFLICT_ENTITIES: Type.Integer({ default: 100, minimum: 1 }),
  MAX_CONFLICT_IDS: Type.Integer({ default: 100, minimum: 1 }),
  MAX_INLINE_RELATED: Type.Integer({ default: 1000, minimum: 1 }),
  MAX_INLINE_VERSIONS: Type.Integer({ default: 1000, minimum: 1 }),
  // Longest a read may run (503 past it). A write always answers its outcome: PostgreSQL's timeouts end it.
  REQUEST_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100 }),
  // Event-loop delay past which requests are shed with 503 (0: never, the default). Only with PostgreSQL:
  // the embedded database runs its queries on the event loop, so a long one delays it by design.
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ default: 0, minimum: 0 }),
  BODY_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100 }),
  STATEMENT_TIMEOUT_MS: Type.Integer({ default: 20_000, minimum: 100 }),
  // The Ed25519 key checkpoints are signed with (PKCS#8 PEM), or a file holding it; the same on every instance.
  // Neither: one is generated into DATA_DIR/signing-key.pem (a key beside the data proves less).
  SIGNING_KEY: Type.Optional(Type.String()),
  SIGNING_KEY_FILE: Type.Optional(Type.String()),
  // versions is partitioned by transaction id: this many ids per partition, this many partitions made ahead.
  HISTORY_PARTITION_SIZE: Type.Integer({ default: 1_000_000, minimum: 1000 }),
  HISTORY_PARTITIONS_AHEAD: Type.Integer({ default: 2, minimum: 1, maximum: 100 }),
  CHECKPOINT_INTERVAL_MS: Type.Integer({ default: 60_000, minimum: 0 }),
  RETENTION_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 0 }),
  // Webhook hosts that may be on private, loopback or link-local addresses (comma-separated; default: none).
  WEBHOOK_ALLOWED_HOSTS: Type.String({ default: '' }),
  // Who may embed the viewer (/ui) in a frame: Content-Security-Policy frame-ancestors sources, space-separated.
  UI_FRAME_ANCESTORS: Type.String({ default: "'self'" })
})

export type Config = Static<typeof ConfigSchema>

/** Reads and validates the configuration from the environment (fails fast on bad values). */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  return envSchema<Config>({ schema: ConfigSchema, data: env })
}
