/**
 * DSSE pre-authentication encoding (DSSE v1 protocol, "Signature definition"): what a DSSE signature is actually
 * made over, `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts. Signing,
 * verifying, the log server and the streamed directory passes all build it here, so they cannot disagree.
 */

/** The encoding before the payload, for a payload of `length` bytes (a payload streamed from a file). */
export function preAuthPrefix(payloadType: string, length: number): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${length} `)]);
}

/** The whole encoding of `payload` under `payloadType`. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  return Buffer.concat([preAuthPrefix(payloadType, payload.length), payload]);
}
