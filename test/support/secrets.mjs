/** The secrets every test system runs with (the worker tests' bindings, the browser tests' system). */
export const TEST_SECRETS = {
  JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
  ADMIN_EMAIL: "admin@fillgrid.test",
  ADMIN_PASSWORD: "admin-password-for-tests",
};
