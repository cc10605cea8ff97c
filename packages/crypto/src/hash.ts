import { hash } from 'node:crypto';

/** SHA-256 through OpenSSL: about twice as fast as a JavaScript implementation here. */
export function sha256(data: Uint8Array): Uint8Array {
  return hash('sha256', data, 'buffer');
}
