import { Alert, Button, Dropdown, Segmented, Space, Table, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, download, queryString, type Entry, type Me } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDateTime } from '../i18n/i18n';
import { navigate } from '../router';

const VIEWS = ['draft', 'submitted', 'returned', 'published'] as const;
type View = (typeof VIEWS)[number];

/** 本单位目录: the agency's entries by where they stand, and the ways in: new, import, export. */
export function AuthoringPage({ me }: { readonly me: Me }) {
  const { t, lang } = useI18n();
  const [view, setView] = useState<View>('draft');
  const [rows, setRows] = useState<readonly Entry[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    setRows(null);
    setError(null);
    const q = { agencyId: me.user.agencyId ?? undefined, lang: contentLanguage(lang), limit: 200, ...(view === 'published' ? { status: 'published' } : { openState: view }) };
    api<{ items: Entry[] }>('GET', `/catalog/entries${queryString(q)}`)
      .then((r) => live && setRows(r.items))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [view, lang, me.user.agencyId]);
  const go = (path: string) => (e: { preventDefault: () => void }) => {
    e.preventDefault();
    navigate(path);
  };
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('authoring.title')}</Typography.Title>
      <Space wrap>
        <Button type="primary" onClick={() => navigate('/authoring/new')} data-testid="new-entry">
          {t('authoring.new')}
        </Button>
        <Button onClick={() => navigate('/authoring/import')} data-testid="import-entries">
          {t('authoring.import')}
        </Button>
        <Dropdown
          menu={{
            items: [
              { key: 'xlsx', label: t('authoring.exportXlsx') },
              { key: 'json', label: t('authoring.exportJson') },
            ],
            onClick: ({ key }) => void download(`/catalog/export?format=${key}`, `catalog.${key}`).catch((e: unknown) => setError(e)),
          }}
        >
          <Button data-testid="export-entries">{t('authoring.export')}</Button>
        </Dropdown>
      </Space>
      <Segmented value={view} onChange={(v) => setView(v as View)} options={VIEWS.map((v) => ({ value: v, label: t(`authoring.view.${v}`) }))} aria-label={t('authoring.viewLabel')} />
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      <Table<Entry>
        data-testid="authoring-list"
        rowKey="id"
        size="small"
        loading={rows === null && !error}
        dataSource={rows ? [...rows] : []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        columns={[
          {
            title: t('authoring.name'),
            render: (_, e) => {
              const v = view === 'published' ? e.published : (e.pending ?? e.published);
              return (
                <a href={`/authoring/entries/${e.id}/edit`} onClick={go(`/authoring/entries/${e.id}/edit`)} data-testid="authoring-entry">
                  {v?.name ?? '—'}
                </a>
              );
            },
          },
          { title: t('catalog.resourceCode'), render: (_, e) => e.resourceCode ?? '—' },
          {
            title: t('authoring.state'),
            render: (_, e) => (
              <Space>
                <Tag>{t(`authoring.view.${view}`)}</Tag>
                {view === 'returned' && e.pending?.reviewed?.comment ? <span data-testid="return-comment">{e.pending.reviewed.comment}</span> : null}
              </Space>
            ),
          },
          { title: t('authoring.updatedAt'), render: (_, e) => formatDateTime(lang, e.updatedAt) },
          {
            title: t('authoring.open'),
            render: (_, e) =>
              e.published ? (
                <a href={`/catalog/entries/${e.id}`} onClick={go(`/catalog/entries/${e.id}`)}>
                  {t('authoring.viewPublished')}
                </a>
              ) : null,
          },
        ]}
      />
    </Space>
  );
}
