import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Forge from 'node-forge';

// node-forge is CommonJS that fills its exports at run time: an ESM import sees no named exports.
const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;

const { asn1, pki } = forge;

/** Key-derivation rounds for the key encryption and the MAC (OpenSSL's default is 2048). */
const ITERATIONS = 20_000;

/**
 * A PKCS#12 bundle (private key, its certificate, the CA certificate) protected by `passphrase`.
 *
 * node-forge's own `toPkcs12Asn1` only takes RSA keys and re-encodes certificates through its RSA-only
 * parser, so the bags are built here from the DER as is: the key in a PKCS#8 shrouded bag (PBES2,
 * AES-256), the certificates in cert bags, an HMAC over the whole, as OpenSSL and Node's `pfx` read it.
 */
export function pkcs12Bundle(input: { privateKeyPkcs8: Buffer; certificateDer: Buffer; caCertificateDer: Buffer; passphrase: string; friendlyName: string }): Buffer {
  const seq = (items: Forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
  const set = (items: Forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
  const oid = (id: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
  const octets = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
  const explicit0 = (inner: Forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
  const binary = (b: Buffer) => forge.util.binary.raw.encode(new Uint8Array(b));
  const der = (node: Forge.asn1.Asn1) => asn1.toDer(node).getBytes();
  const data = (content: Forge.asn1.Asn1) => seq([oid(pki.oids.data!), explicit0(octets(der(content)))]);

  const localKeyId = createHash('sha1').update(input.certificateDer).digest();
  const attributes = set([
    seq([oid(pki.oids.localKeyId!), set([octets(binary(localKeyId))])]),
    seq([oid(pki.oids.friendlyName!), set([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, input.friendlyName)])]),
  ]);
  const certBag = (certificate: Buffer, attrs?: Forge.asn1.Asn1) =>
    seq([oid(pki.oids.certBag!), explicit0(seq([oid(pki.oids.x509Certificate!), explicit0(octets(binary(certificate)))])), ...(attrs ? [attrs] : [])]);

  const privateKeyInfo = asn1.fromDer(binary(input.privateKeyPkcs8));
  const shrouded = pki.encryptPrivateKeyInfo(privateKeyInfo, input.passphrase, { algorithm: 'aes256', count: ITERATIONS, saltSize: 16, prfAlgorithm: 'sha256' });
  const keyBag = seq([oid(pki.oids.pkcs8ShroudedKeyBag!), explicit0(shrouded), attributes]);

  const authenticatedSafe = seq([data(seq([certBag(input.certificateDer, attributes), certBag(input.caCertificateDer)])), data(seq([keyBag]))]);

  const macSalt = forge.random.getBytesSync(16);
  const iterations = ITERATIONS;
  const macKey = forge.pkcs12.generateKey(input.passphrase, forge.util.createBuffer(macSalt), 3, iterations, 32, forge.md.sha256.create());
  const hmac = forge.hmac.create();
  hmac.start('sha256', macKey);
  hmac.update(der(authenticatedSafe));
  const macData = seq([
    seq([seq([oid(pki.oids.sha256!), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]), octets(hmac.digest().getBytes())]),
    octets(macSalt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(iterations).getBytes()),
  ]);
  const pfx = seq([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(3).getBytes()), data(authenticatedSafe), macData]);
  return Buffer.from(der(pfx), 'binary');
}
