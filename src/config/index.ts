export { APP_CONFIG, ConfigValidationError, loadConfig } from './app-config';
export type { AppConfig, DatabaseConfig } from './app-config';
export { ConfigModule } from './config.module';
