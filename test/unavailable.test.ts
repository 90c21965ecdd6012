import t from 'tap'
import { isUnavailable } from '../src/store/driver-errors.js'

t.test('errors of an unreachable database are told apart from the rest', async (t) => {
  for (const error of [
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    // pg, when a transaction's ROLLBACK runs on a connection the server has just terminated
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('Client was closed and is not queryable')
  ]) t.ok(isUnavailable(error), error.message)
  for (const error of [
    Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
    new TypeError('Cannot read properties of undefined'),
    new Error('something else')
  ]) t.notOk(isUnavailable(error), error.message)
})
