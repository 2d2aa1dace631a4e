/** The secrets every test system runs with (the worker tests' bindings, the browser tests' system). */
export const TEST_SECRETS = {
  JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
  ADMIN_EMAIL: "admin@fillgrid.test",
  ADMIN_PASSWORD: "admin-password-for-tests",
  BACKUP_ENCRYPTION_KEY: "tQg4Bp1/iPe+Yxgn7XXlznSX76pk4oaLXCFAOUA4k0s=",
};

/** Telegram and email for the worker tests: the Bot API is the stand-in (test/global-setup.ts). */
export const TEST_TELEGRAM = {
  TELEGRAM_BOT_TOKEN: "123456:test-bot-token",
  TELEGRAM_WEBHOOK_SECRET: "test-webhook-secret",
  TELEGRAM_CHAT_ID: "-1001",
  TELEGRAM_ESCALATION_CHAT_ID: "-1002",
  ALERT_EMAILS: "oncall@fillgrid.test",
  ERROR_EMAILS: "errors@fillgrid.test",
};
