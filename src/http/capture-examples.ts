const T1 = '2025-01-15T09:30:00.000Z'

/** PUT /capture/sources/{name} bodies. */
export const putCaptureSourceExamples = {
  shop: {
    summary: 'Capture two tables',
    description: 'Rows of public.article become versions of article, rows of public.comment of comment; ids from each primary key.',
    value: {
      connection: 'postgres://rewind_capture:secret@db.internal:5432/shop',
      tables: { 'public.article': { type: 'article' }, 'public.comment': { type: 'comment', exclude: ['updated_at'] } }
    }
  }
}

/** A capture source as GET /capture/sources/{name} answers it. */
export const captureSourceExample = {
  name: 'shop',
  connection: 'postgres://rewind_capture:***@db.internal:5432/shop',
  tables: { 'public.article': { type: 'article' } },
  publication: 'rewind_default_shop',
  slot: 'rewind_default_shop',
  state: 'streaming',
  reason: null,
  confirmedLsn: '0/1A2B3C8',
  lastCommitAt: T1,
  lag: { bytes: 0, seconds: 0 },
  slotStatus: { exists: true, active: true, retainedBytes: 1024 },
  createdAt: T1,
  updatedAt: T1
}
