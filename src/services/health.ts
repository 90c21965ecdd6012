import { pingDatabase } from '../store/database.js'
import type { ServiceContext } from './context.js'

/** Resolves when the database answers; throws otherwise. */
export async function checkDatabase ({ db }: ServiceContext): Promise<void> {
  await pingDatabase(db)
}
