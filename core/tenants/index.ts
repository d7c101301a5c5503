export { addCustomer, getCustomer, listCustomers, type Customer } from './customers.js';
export {
  ApiKeyAuthenticator,
  createApiKey,
  hashKey,
  keyIdOf,
  listApiKeys,
  revokeApiKey,
  type ApiKeyInfo,
  type Principal,
} from './api-keys.js';
