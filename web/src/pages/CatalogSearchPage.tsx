import { Alert, Button, Card, Checkbox, Col, Empty, Input, List, Pagination, Row, Space, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, FACETS, queryString, type Facet, type FacetValue, type SearchResult, type Segment } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDate, formatNumber } from '../i18n/i18n';
import { navigate, useLocation } from '../router';

const PAGE_SIZE = 10;

/** The search's state lives in the URL, so the back button and a copied link restore it. */
function searchUrl(q: string, filters: Readonly<Partial<Record<Facet, readonly string[]>>>, offset: number): string {
  return `/catalog${queryString({ q, ...filters, ...(offset > 0 ? { offset } : {}) })}`;
}

/** Text cut into pieces by the API; the matching pieces are marked. React escapes the text. */
export function Highlighted({ segments }: { readonly segments: readonly Segment[] }) {
  return (
    <>
      {segments.map((s, i) => (s.match ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
    </>
  );
}

export function CatalogSearchPage() {
  const { t, lang } = useI18n();
  const loc = useLocation();
  const q = loc.query.get('q') ?? '';
  const offset = Number(loc.query.get('offset') ?? '0') || 0;
  const filters: Partial<Record<Facet, string[]>> = {};
  for (const f of FACETS) {
    const v = loc.query.getAll(f);
    if (v.length > 0) filters[f] = v;
  }
  const key = loc.query.toString();
  const [text, setText] = useState(q);
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => setText(q), [q]);

  // The region facet carries codes only; its labels are the regions' names (GET /regions/:code).
  const [regionNames, setRegionNames] = useState<Readonly<Record<string, string>>>({});
  const regionCodes = (result?.facets?.region ?? []).map((v) => v.value).filter((c) => regionNames[c] === undefined);
  const regionKey = regionCodes.join(',');
  useEffect(() => {
    if (regionKey === '') return;
    let live = true;
    void Promise.all(
      regionKey.split(',').map((code) =>
        api<{ code: string; name: string }>('GET', `/regions/${code}`, undefined, { quiet: true }).then(
          (r) => [code, r.name] as const,
          () => [code, code] as const,
        ),
      ),
    ).then((pairs) => live && setRegionNames((now) => ({ ...now, ...Object.fromEntries(pairs) })));
    return () => {
      live = false;
    };
  }, [regionKey]);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    const params = new URLSearchParams(key);
    params.set('limit', String(PAGE_SIZE));
    params.set('lang', contentLanguage(lang));
    api<SearchResult>('GET', `/catalog/search?${params.toString()}`)
      .then((r) => live && setResult(r))
      .catch((e: unknown) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [key, lang]);

  const toggle = (facet: Facet, value: string, on: boolean) => {
    const now = new Set(filters[facet] ?? []);
    if (on) now.add(value);
    else now.delete(value);
    navigate(searchUrl(q, { ...filters, [facet]: [...now] }, 0));
  };

  const facetLabel = (facet: Facet, v: FacetValue): string => {
    switch (facet) {
      case 'provider':
        return v.label ?? v.code ?? v.value;
      case 'shareType':
      case 'shareMethod':
      case 'format':
      case 'updateCycle':
        return t(`${facet}.${v.value}`);
      case 'region':
        return regionNames[v.value] ?? v.label ?? v.value;
      case 'classification':
        return v.value.length === 1 ? `${v.value} ${t(`classification.${v.value}`)}` : v.value;
      default:
        return v.value;
    }
  };

  const anyFilter = Object.keys(filters).length > 0;

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('catalog.title')}</Typography.Title>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(searchUrl(text.trim(), filters, 0));
        }}
      >
        <Space.Compact style={{ width: '100%', maxWidth: 720 }}>
          <Input
            aria-label={t('catalog.query')}
            placeholder={t('catalog.queryPlaceholder')}
            value={text}
            onChange={(e) => setText(e.target.value)}
            maxLength={200}
            allowClear
            data-testid="search-input"
          />
          <Button type="primary" htmlType="submit" data-testid="search-submit">
            {t('catalog.search')}
          </Button>
        </Space.Compact>
      </form>
      {error ? <Alert type="error" showIcon title={errorMessage(lang, error)} role="alert" /> : null}
      <Row gutter={16} wrap={false}>
        <Col flex="240px">
          <Card size="small" title={t('catalog.filters')} extra={anyFilter ? <Button size="small" type="link" onClick={() => navigate(searchUrl(q, {}, 0))}>{t('catalog.clearFilters')}</Button> : null}>
            {result?.facets
              ? FACETS.filter((f) => (result.facets?.[f].length ?? 0) > 0).map((f) => (
                  <fieldset key={f} className="gs-facet" data-testid={`facet-${f}`}>
                    <legend>{t(`facet.${f}`)}</legend>
                    {result.facets![f].map((v) => (
                      <div key={v.value}>
                        <Checkbox checked={filters[f]?.includes(v.value) ?? false} onChange={(e) => toggle(f, v.value, e.target.checked)}>
                          {facetLabel(f, v)} <span className="gs-count">({formatNumber(lang, v.count)})</span>
                        </Checkbox>
                      </div>
                    ))}
                  </fieldset>
                ))
              : null}
          </Card>
        </Col>
        <Col flex="auto" style={{ minWidth: 0 }}>
          <section aria-label={t('catalog.results')}>
            {result ? (
              <Typography.Paragraph data-testid="search-total">
                {t(result.totalIsLowerBound ? 'catalog.totalLowerBound' : 'catalog.total', { total: formatNumber(lang, result.total) })}
              </Typography.Paragraph>
            ) : null}
            <List
              loading={loading}
              dataSource={result?.items ?? []}
              locale={{ emptyText: <Empty description={t('catalog.empty')} /> }}
              renderItem={(hit) => (
                <List.Item key={hit.entryId} data-testid="search-hit">
                  <List.Item.Meta
                    title={
                      <a
                        href={`/catalog/entries/${encodeURIComponent(hit.entryId)}`}
                        onClick={(e) => {
                          e.preventDefault();
                          navigate(`/catalog/entries/${encodeURIComponent(hit.entryId)}`);
                        }}
                      >
                        <Highlighted segments={hit.highlight.name} />
                      </a>
                    }
                    description={
                      <Space orientation="vertical" size={4}>
                        {hit.highlight.abstract.length > 0 ? (
                          <span className="gs-abstract">
                            <Highlighted segments={hit.highlight.abstract} />
                          </span>
                        ) : null}
                        <Space size={4} wrap>
                          <Tag color={hit.shareType === 'unconditional' ? 'green' : hit.shareType === 'conditional' ? 'blue' : 'default'}>{t(`shareType.${hit.shareType}`)}</Tag>
                          {hit.shareMethods.map((m) => (
                            <Tag key={m}>{t(`shareMethod.${m}`)}</Tag>
                          ))}
                          {hit.updateCycle ? <Tag>{t(`updateCycle.${hit.updateCycle}`)}</Tag> : null}
                        </Space>
                        <span>
                          {t('catalog.resourceCode')}: {hit.resourceCode} · {t('catalog.provider')}: {hit.provider.name} · {t('catalog.publishDate')}: {formatDate(lang, hit.publishDate)}
                        </span>
                      </Space>
                    }
                  />
                </List.Item>
              )}
            />
            {result && result.total > PAGE_SIZE ? (
              <Pagination
                current={Math.floor(offset / PAGE_SIZE) + 1}
                pageSize={PAGE_SIZE}
                total={Math.min(result.total, 10_000)}
                showSizeChanger={false}
                onChange={(page) => navigate(searchUrl(q, filters, (page - 1) * PAGE_SIZE))}
              />
            ) : null}
          </section>
        </Col>
      </Row>
    </Space>
  );
}
