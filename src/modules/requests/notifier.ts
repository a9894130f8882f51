import type { NotificationService } from '../notifications/service.js';

export type { Audience, Notice } from '../notifications/service.js';

/** What the share-request workflow and the grants need of the notifications module. */
export type Notifier = Pick<NotificationService, 'notify'>;
