/**
 * Bounds of the paging parameters of list routes. Every page number and limit a client sends reaches
 * SQL (OFFSET, LIMIT): unbounded, `?page=1e20` overflows PostgreSQL's bigint and fails as a 500.
 */

/** The largest page number: (page - 1) * size stays far inside a bigint OFFSET at any page size. */
export const MAX_PAGE = 10_000_000;

/** The most rows one list request returns (`limit` of the job lists). */
export const MAX_LIST_LIMIT = 1000;
