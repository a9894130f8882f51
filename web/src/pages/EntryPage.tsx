import { Alert, Button, Descriptions, Space, Spin, Table, Tabs, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, ApiError, type DataItem, type Entry, type Me, type Version } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDate, formatDateTime } from '../i18n/i18n';
import { navigate } from '../router';

function lengthOf(item: DataItem): string {
  if (item.length !== null) return String(item.length);
  if (item.precision !== null) return `${item.precision},${item.scale ?? 0}`;
  return '—';
}

export function EntryPage({ id, me }: { readonly id: string; readonly me: Me }) {
  const { t, lang } = useI18n();
  const [entry, setEntry] = useState<Entry | null>(null);
  const [versions, setVersions] = useState<readonly Version[]>([]);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    setError(null);
    const l = contentLanguage(lang);
    Promise.all([api<Entry>('GET', `/catalog/entries/${encodeURIComponent(id)}?lang=${l}`), api<{ items: Version[] }>('GET', `/catalog/entries/${encodeURIComponent(id)}/versions?lang=${l}`)])
      .then(([e, v]) => {
        if (!live) return;
        setEntry(e);
        setVersions(v.items);
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [id, lang]);

  const back = (
    <Button onClick={() => window.history.back()} data-testid="back">
      {t('entry.back')}
    </Button>
  );
  if (error) {
    const notFound = error instanceof ApiError && error.status === 404;
    return (
      <Space orientation="vertical">
        {back}
        <Alert type="error" showIcon role="alert" title={notFound ? t('entry.notFound') : errorMessage(lang, error)} />
      </Space>
    );
  }
  if (!entry) return <Spin />;
  const v = entry.published ?? entry.pending;
  if (!v) return <Alert type="error" title={t('entry.notFound')} />;

  const share = (
    <Descriptions bordered column={1} size="small" data-testid="share-attributes">
      <Descriptions.Item label={t('entry.shareType')}>{v.shareType ? t(`shareType.${v.shareType}`) : '—'}</Descriptions.Item>
      {v.shareCondition ? <Descriptions.Item label={t('entry.shareCondition')}>{v.shareCondition}</Descriptions.Item> : null}
      {v.legalBasis ? (
        <Descriptions.Item label={t('entry.legalBasis')}>
          {v.legalBasis.law} {v.legalBasis.article}
        </Descriptions.Item>
      ) : null}
      <Descriptions.Item label={t('entry.shareMethods')}>{v.shareMethods.length > 0 ? v.shareMethods.map((m) => <Tag key={m}>{t(`shareMethod.${m}`)}</Tag>) : t('entry.none')}</Descriptions.Item>
      <Descriptions.Item label={t('entry.openness')}>
        {v.openness ? `${t(v.openness.open ? 'entry.open' : 'entry.notOpen')}${v.openness.condition ? `（${v.openness.condition}）` : ''}` : '—'}
      </Descriptions.Item>
      <Descriptions.Item label={t('entry.updateCycle')}>{v.updateCycle ? t(`updateCycle.${v.updateCycle}`) : '—'}</Descriptions.Item>
      <Descriptions.Item label={t('entry.relatedCodes')}>{v.relatedCodes.length > 0 ? v.relatedCodes.join('、') : t('entry.none')}</Descriptions.Item>
    </Descriptions>
  );

  const items = (
    <Table<DataItem>
      data-testid="data-items"
      rowKey="nameZh"
      size="small"
      pagination={false}
      dataSource={[...v.dataItems]}
      columns={[
        { title: t('item.name'), dataIndex: 'name' },
        { title: t('item.dataType'), dataIndex: 'dataType', render: (d: string, item) => `${t(`dataType.${d}`)} (${item.sqlType})` },
        { title: t('item.length'), key: 'length', render: (_x, item) => lengthOf(item) },
        { title: t('item.description'), dataIndex: 'description' },
        { title: t('item.key'), dataIndex: 'key', render: (k: boolean) => t(k ? 'item.yes' : 'item.no') },
        { title: t('item.sensitive'), dataIndex: 'sensitive', render: (s: boolean) => (s ? <Tag color="red">{t('item.yes')}</Tag> : t('item.no')) },
      ]}
    />
  );

  const history = (
    <Table<Version>
      data-testid="versions"
      rowKey="number"
      size="small"
      pagination={false}
      dataSource={[...versions].reverse()}
      columns={[
        { title: t('version.number'), dataIndex: 'number' },
        { title: t('version.state'), dataIndex: 'state', render: (s: string) => t(`versionState.${s}`) },
        { title: t('version.publishDate'), dataIndex: 'publishDate', render: (d: string | null) => (d ? formatDate(lang, d) : '—') },
        { title: t('version.createdAt'), dataIndex: 'createdAt', render: (d: string) => formatDateTime(lang, d) },
        { title: t('version.reviewed'), dataIndex: 'reviewed', render: (r: Version['reviewed']) => (r ? `${r.by} · ${formatDateTime(lang, r.at)}${r.comment ? ` · ${r.comment}` : ''}` : '—') },
      ]}
    />
  );

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      {back}
      <Typography.Title level={2} data-testid="entry-name">
        {v.name}
      </Typography.Title>
      <EntryActions entry={entry} me={me} />
      <Descriptions size="small" column={2}>
        <Descriptions.Item label={t('catalog.resourceCode')}>{entry.resourceCode ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('catalog.provider')}>{entry.provider.name}</Descriptions.Item>
        <Descriptions.Item label={t('entry.classification')}>{v.classification?.code ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('entry.format')}>{v.format ? `${t(`format.${v.format.type}`)}${v.format.subtype ? ` (${v.format.subtype})` : ''}` : '—'}</Descriptions.Item>
        <Descriptions.Item label={t('entry.status')}>{t(`entryStatus.${entry.status}`)}</Descriptions.Item>
        <Descriptions.Item label={t('catalog.publishDate')}>{v.publishDate ? formatDate(lang, v.publishDate) : '—'}</Descriptions.Item>
      </Descriptions>
      {v.abstract ? (
        <Typography.Paragraph>
          <strong>{t('entry.abstract')}:</strong> {v.abstract}
        </Typography.Paragraph>
      ) : null}
      <Tabs
        items={[
          { key: 'items', label: t('entry.tabs.items'), children: items },
          { key: 'share', label: t('entry.tabs.share'), children: share },
          { key: 'versions', label: t('entry.tabs.versions'), children: history },
        ]}
      />
    </Space>
  );
}

/** What the person can do with the entry: ask for it (another agency's published entry), or edit it (their own agency's). */
function EntryActions({ entry, me }: { readonly entry: Entry; readonly me: Me }) {
  const { t } = useI18n();
  const own = me.user.agencyId !== null && entry.provider.id === me.user.agencyId;
  const canRequest = entry.published !== null && !own && me.user.agencyId !== null && me.permissions.includes('request:file');
  const canEdit = own && me.permissions.includes('catalog:edit');
  if (!canRequest && !canEdit) return null;
  return (
    <Space>
      {canRequest ? (
        <Button type="primary" data-testid="file-request" onClick={() => navigate(`/requests/new?entry=${encodeURIComponent(entry.id)}`)}>
          {t('requests.fileFromEntry')}
        </Button>
      ) : null}
      {canEdit ? (
        <Button data-testid="edit-entry" onClick={() => navigate(`/authoring/entries/${encodeURIComponent(entry.id)}/edit`)}>
          {t('authoring.edit')}
        </Button>
      ) : null}
    </Space>
  );
}
