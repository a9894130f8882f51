import { Alert, Badge, Button, Empty, List, Space, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, type InboxItem } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { formatDateTime } from '../i18n/i18n';

/** One's own notifications, newest first; reading one is an explicit action, never a side effect. */
export function InboxPage({ onChange }: { readonly onChange: () => void }) {
  const { t, lang } = useI18n();
  const [items, setItems] = useState<readonly InboxItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setItems((await api<{ items: InboxItem[] }>('GET', '/notifications?limit=100')).items);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const act = async (path: string) => {
    try {
      await api('POST', path);
      await load();
      onChange();
    } catch (e) {
      setError(e);
    }
  };

  const zh = lang === 'zh-CN';
  const unread = items?.filter((i) => !i.read).length ?? 0;
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('inbox.title')}</Typography.Title>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      <Button onClick={() => void act('/notifications/read-all')} disabled={unread === 0}>
        {t('inbox.readAll')}
      </Button>
      <List
        loading={items === null && !error}
        dataSource={[...(items ?? [])]}
        locale={{ emptyText: <Empty description={t('inbox.empty')} /> }}
        renderItem={(n) => (
          <List.Item
            key={n.id}
            data-testid="inbox-item"
            actions={n.read ? [] : [<Button key="read" size="small" onClick={() => void act(`/notifications/${n.id}/read`)}>{t('inbox.markRead')}</Button>]}
          >
            <List.Item.Meta
              title={
                <Space>
                  {n.read ? null : <Badge status="processing" text={t('inbox.unread')} />}
                  <span className={n.read ? undefined : 'gs-unread'}>{zh ? n.subjectZh : n.subject}</span>
                </Space>
              }
              description={
                <Space orientation="vertical" size={2}>
                  <span>{zh ? n.bodyZh : n.body}</span>
                  <span>{formatDateTime(lang, n.createdAt)}</span>
                </Space>
              }
            />
          </List.Item>
        )}
      />
    </Space>
  );
}
