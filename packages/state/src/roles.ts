// The roles of the public contract ("Roles and who may do what").

export const ROLES = ['regulator', 'dealer', 'insurer', 'service', 'issuer', 'person'] as const;
export type Role = (typeof ROLES)[number];

/** Organisations: every role but a private person. */
export const ORGANISATION_ROLES: readonly Role[] = ['regulator', 'dealer', 'insurer', 'service', 'issuer'];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
