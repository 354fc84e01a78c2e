/**
 * add_certificate, list_certificates, remove_certificate, create_csr and
 * sign_certificate: request shapes, messages and statuses as Harper 4.7
 * (bad input is a 4xx here where Harper sometimes answers 500).
 */
import { OperationError, type OperationDefinition } from '../../kernel/index.js';
import type { Authority } from './authority.js';
import { listView } from './certificate-rows.js';

type Body = Record<string, unknown>;

function requiredString(body: Body, key: string): string {
  const value = body[key];
  if (value === undefined || value === null || value === '') throw new OperationError(400, `'${key}' is required`);
  if (typeof value !== 'string') throw new OperationError(400, `'${key}' must be a string`);
  return value;
}

const optionalString = (body: Body, key: string): string | undefined =>
  body[key] === undefined || body[key] === null ? undefined : requiredString(body, key);

function requiredBoolean(body: Body, key: string): boolean {
  const value = body[key];
  if (value === undefined || value === null) throw new OperationError(400, `'${key}' is required`);
  if (typeof value !== 'boolean') throw new OperationError(400, `'${key}' must be a boolean`);
  return value;
}

function optionalStringArray(body: Body, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new OperationError(400, `'${key}' must be an array of strings`);
  }
  return value as string[];
}

interface AddCertificateInput {
  name?: string;
  certificate: string;
  isAuthority: boolean;
  privateKey?: string;
  uses?: string[];
}

export function certificateOperations(authority: () => Authority): OperationDefinition<any, any>[] {
  const addCertificate: OperationDefinition<AddCertificateInput, { message: string }> = {
    name: 'add_certificate',
    permission: 'super_user',
    input: (body) => {
      const name = optionalString(body, 'name');
      const privateKey = optionalString(body, 'private_key');
      const uses = optionalStringArray(body, 'uses');
      return {
        ...(name !== undefined ? { name } : {}),
        certificate: requiredString(body, 'certificate'),
        isAuthority: requiredBoolean(body, 'is_authority'),
        ...(privateKey !== undefined ? { privateKey } : {}),
        ...(uses !== undefined ? { uses } : {}),
      };
    },
    handler: async (input) => ({ message: `Successfully added certificate: ${await authority().addCertificate(input)}` }),
  };
  const listCertificates: OperationDefinition<Body, Record<string, unknown>[]> = {
    name: 'list_certificates',
    permission: 'super_user',
    handler: () => authority().list().map(listView),
  };
  const removeCertificate: OperationDefinition<{ name: string }, { message: string }> = {
    name: 'remove_certificate',
    permission: 'super_user',
    input: (body) => ({ name: requiredString(body, 'name') }),
    handler: async ({ name }) => {
      await authority().removeCertificate(name);
      return { message: `Successfully removed ${name}` };
    },
  };
  const createCsr: OperationDefinition<Body, { message: string }> = {
    name: 'create_csr',
    permission: 'super_user',
    handler: () => ({ message: authority().createCsr() }),
  };
  const signCertificate: OperationDefinition<{ csr: string }, { certificate: string; signingCA: string }> = {
    name: 'sign_certificate',
    permission: 'super_user',
    input: (body) => ({ csr: requiredString(body, 'csr') }),
    handler: ({ csr }) => authority().signCsr(csr),
  };
  return [addCertificate, listCertificates, removeCertificate, createCsr, signCertificate];
}
