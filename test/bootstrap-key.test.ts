import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { bootstrapAdminKey } from '../src/services/api-keys.js'
import { createPGlite, openDatabase, type Db } from '../src/store/database.js'
import { migrateToLatest } from '../src/store/migrate.js'

// README, "Run it": the first admin key goes to DATA_DIR/admin-key; a second database's first
// key, started with the same DATA_DIR, must not overwrite the first one's file.

async function freshDatabase (): Promise<Db> {
  const db = await openDatabase({ pglite: await createPGlite('memory://') })
  await migrateToLatest(db)
  return db
}

t.test('a second database\'s first key is written beside the first one\'s, never over it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-bootstrap-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const first = await freshDatabase()
  t.teardown(async () => { await first.destroy() })
  t.equal(await bootstrapAdminKey(first, dir, undefined), path.join(dir, 'admin-key'))
  const firstKey = readFileSync(path.join(dir, 'admin-key'), 'utf8')
  t.equal(await bootstrapAdminKey(first, dir, undefined), undefined, 'a database that had a key gets none')

  const second = await freshDatabase()
  t.teardown(async () => { await second.destroy() })
  t.equal(await bootstrapAdminKey(second, dir, undefined), path.join(dir, 'admin-key.1'))
  t.equal(readFileSync(path.join(dir, 'admin-key'), 'utf8'), firstKey, 'the first database\'s key file is unchanged')
  t.not(readFileSync(path.join(dir, 'admin-key.1'), 'utf8'), firstKey)
  t.equal(statSync(path.join(dir, 'admin-key.1')).mode & 0o777, 0o600, 'readable by this user only')
})
