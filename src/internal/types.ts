/**
 * @packageDocumentation
 * Type-level helpers the public signatures are built from. Internal: not exported from the package, but shipped, so
 * the published declarations that use them resolve (a consumer fixture with `skipLibCheck: false` checks it).
 */

/**
 * True when `T` is a union of two or more types. Used to refuse a union of method names or topics, whose payload
 * could belong to either.
 */
export type IsUnion<T, TAll = T> = T extends unknown ? ([TAll] extends [T] ? false : true) : never;
