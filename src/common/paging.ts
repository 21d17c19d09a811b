/**
 * Bounds of the paging parameters of list routes. Every page number and limit a client sends reaches
 * SQL (OFFSET, LIMIT): unbounded, `?page=1e20` overflows PostgreSQL's bigint and fails as a 500.
 */

/** The largest page number: (page - 1) * size stays far inside a bigint OFFSET at any page size. */
export const MAX_PAGE = 10_000_000;

/** The most rows one list request returns (`limit` of the job lists). */
export const MAX_LIST_LIMIT = 1000;

/** The one envelope of every list route: a page of items and where it lies. */
export interface Page<T> {
  items: T[];
  /** Items matching the filter, on all pages. */
  total: number;
  page: number;
  limit: number;
}

/** A page of an in-memory list (short lists that are read whole: models, API keys). */
export function pageOf<T>(all: T[], page: number, limit: number): Page<T> {
  return { items: all.slice((page - 1) * limit, page * limit), total: all.length, page, limit };
}
