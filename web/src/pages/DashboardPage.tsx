import { Alert, Card, Col, Row, Spin, Statistic, Typography } from 'antd';
import { useEffect, useMemo, useState } from 'react';
import { api, type FacetValue, type Me, type SearchResult } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage } from '../i18n/i18n';
import { Chart, type ChartOption } from './Chart';
import { requestTotals, reviewTimes, topWithOther, type AgencyStats } from './dashboard-logic';

interface Data {
  readonly catalog: SearchResult;
  readonly providers: readonly AgencyStats[] | null;
  readonly toReview: number | null;
}

/** 概览: the figures a supervisor (or an agency's staff, for their agency) looks at first. */
export function DashboardPage({ me }: { readonly me: Me }) {
  const { t, lang } = useI18n();
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canRequests = me.permissions.includes('request:read');
  const canReview = me.permissions.includes('catalog:review');

  useEffect(() => {
    let live = true;
    const l = contentLanguage(lang);
    Promise.all([
      api<SearchResult>('GET', `/catalog/search?limit=1&lang=${l}`),
      canRequests ? api<{ providers: AgencyStats[] }>('GET', `/share-requests/statistics?lang=${l}`).then((s) => s.providers) : Promise.resolve(null),
      canReview ? api<{ items: unknown[] }>('GET', '/catalog/entries?openState=submitted&limit=200').then((r) => r.items.length) : Promise.resolve(null),
    ])
      .then(([catalog, providers, toReview]) => live && setData({ catalog, providers, toReview }))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [lang, canRequests, canReview]);

  const charts = useMemo(() => {
    if (!data) return null;
    const facet = (name: 'shareType' | 'provider'): readonly FacetValue[] => data.catalog.facets?.[name] ?? [];
    const byShareType: ChartOption = {
      tooltip: { trigger: 'item', renderMode: 'richText' },
      legend: { bottom: 0 },
      series: [{ type: 'pie', radius: ['35%', '65%'], label: { formatter: '{b}: {c}' }, data: facet('shareType').map((v) => ({ name: t(`shareType.${v.value}`), value: v.count })) }],
    };
    const providers = topWithOther(
      facet('provider').map((v) => ({ label: v.label ?? v.value, count: v.count })),
      10,
      t('dashboard.other'),
    ).reverse();
    const byProvider: ChartOption = {
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: providers.map((p) => p.label) },
      series: [{ type: 'bar', data: providers.map((p) => p.count), itemStyle: { color: '#1677ff' }, label: { show: true, position: 'right' } }],
    };
    const totals = data.providers ? requestTotals(data.providers) : null;
    const states = totals ? (['pending', 'granted', 'refused', 'nonConforming', 'disputed', 'withdrawn'] as const) : [];
    const byState: ChartOption = {
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: states.map((s) => t(`dashboard.state.${s}`)) },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ type: 'bar', data: states.map((s) => totals![s]), itemStyle: { color: '#13a8a8' }, label: { show: true, position: 'top' } }],
    };
    const times = data.providers ? reviewTimes(data.providers).reverse() : [];
    const reviewTime: ChartOption = {
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      legend: { bottom: 0 },
      grid: { left: 8, right: 24, top: 8, bottom: 32, containLabel: true },
      xAxis: { type: 'value', name: t('dashboard.workingDays'), nameLocation: 'middle', nameGap: 24 },
      yAxis: { type: 'category', data: times.map((r) => r.agency) },
      series: [
        { type: 'bar', name: t('dashboard.median'), data: times.map((r) => r.median), itemStyle: { color: '#52c41a' } },
        { type: 'bar', name: t('dashboard.p95'), data: times.map((r) => r.p95), itemStyle: { color: '#faad14' } },
      ],
    };
    return { byShareType, byProvider, byState, reviewTime, totals, times };
  }, [data, t]);

  if (error) return <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} />;
  if (!data || !charts) return <Spin />;
  const { totals } = charts;
  return (
    <div>
      <Typography.Title level={2}>{t('dashboard.title')}</Typography.Title>
      <Row gutter={[16, 16]} data-testid="dashboard-counts">
        <Col xs={12} md={6}>
          <Card size="small">
            <Statistic title={t('dashboard.published')} value={data.catalog.total} suffix={data.catalog.totalIsLowerBound ? '+' : undefined} data-testid="count-published" />
          </Card>
        </Col>
        {data.toReview !== null ? (
          <Col xs={12} md={6}>
            <Card size="small">
              <Statistic title={t('dashboard.toReview')} value={data.toReview} data-testid="count-to-review" />
            </Card>
          </Col>
        ) : null}
        {totals ? (
          <>
            <Col xs={12} md={6}>
              <Card size="small">
                <Statistic title={t('dashboard.pendingRequests')} value={totals.pending} data-testid="count-pending" />
              </Card>
            </Col>
            <Col xs={12} md={6}>
              <Card size="small">
                <Statistic title={t('dashboard.overdueRequests')} value={totals.overdue} valueStyle={totals.overdue > 0 ? { color: '#cf1322' } : undefined} data-testid="count-overdue" />
              </Card>
            </Col>
          </>
        ) : null}
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('dashboard.byShareType')}>
            <Chart option={charts.byShareType} label={t('dashboard.byShareType')} testId="chart-share-type" />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('dashboard.byProvider')}>
            <Chart option={charts.byProvider} label={t('dashboard.byProvider')} testId="chart-provider" />
          </Card>
        </Col>
        {totals ? (
          <Col xs={24} lg={12}>
            <Card size="small" title={t('dashboard.byState')}>
              <Chart option={charts.byState} label={t('dashboard.byState')} testId="chart-request-state" />
            </Card>
          </Col>
        ) : null}
        {totals ? (
          <Col xs={24} lg={12}>
            <Card size="small" title={t('dashboard.reviewTimes')}>
              {charts.times.length > 0 ? <Chart option={charts.reviewTime} label={t('dashboard.reviewTimes')} testId="chart-review-time" /> : <Typography.Text type="secondary">{t('dashboard.noDecisions')}</Typography.Text>}
            </Card>
          </Col>
        ) : null}
      </Row>
    </div>
  );
}
