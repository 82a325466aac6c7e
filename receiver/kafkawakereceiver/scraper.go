package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

type kafkaScraper struct {
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time
	mb     *schema.MetricsBuilder

	// topics and groups are the distinct names across bindings: two bindings
	// sharing a topic or a group read it once.
	topics []string
	groups []string

	states        []*bindingState // one per binding, same order as cfg.Bindings
	lastErrorText []string        // per binding, so each cause is logged once

	client *kgo.Client
	adm    *kadm.Client
}

func newKafkaScraper(cfg *Config, set receiver.Settings) *kafkaScraper {
	s := &kafkaScraper{
		cfg:           cfg,
		logger:        set.Logger,
		now:           time.Now,
		mb:            schema.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		states:        make([]*bindingState, len(cfg.Bindings)),
		lastErrorText: make([]string, len(cfg.Bindings)),
	}
	seenTopics, seenGroups := map[string]bool{}, map[string]bool{}
	for i, b := range cfg.Bindings {
		s.states[i] = newBindingState()
		if !seenTopics[b.Topic] {
			seenTopics[b.Topic] = true
			s.topics = append(s.topics, b.Topic)
		}
		if !seenGroups[b.ConsumerGroup] {
			seenGroups[b.ConsumerGroup] = true
			s.groups = append(s.groups, b.ConsumerGroup)
		}
	}
	return s
}

// start creates the receiver's one Kafka client; it connects lazily, so a
// broker that is down at start shows up as scrape errors, not a failed start.
func (s *kafkaScraper) start(context.Context, component.Host) error {
	client, err := kgo.NewClient(clientOptions(s.cfg)...)
	if err != nil {
		return fmt.Errorf("creating Kafka client for brokers %v: %w", s.cfg.Brokers, err)
	}
	s.client = client
	s.adm = kadm.NewClient(client)
	return nil
}

func (s *kafkaScraper) shutdown(context.Context) error {
	if s.client != nil {
		s.client.Close()
	}
	return nil
}

func clientOptions(cfg *Config) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		// KIP-714 pushes would add a goroutine and broker errors for nothing.
		kgo.DisableClientMetrics(),
	}
}

func (s *kafkaScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	now := s.now()
	offsets := readClusterOffsets(ctx, s.adm, s.topics, s.groups)
	ts := pcommon.NewTimestampFromTime(now)
	var errs scrapererror.ScrapeErrors
	for i, b := range s.cfg.Bindings {
		partitions, err := offsets.partitionsOf(b.Topic, b.ConsumerGroup)
		s.logBindingError(i, err)
		if err != nil {
			// No pending point: an unreadable binding must not look idle.
			errs.AddPartial(1, fmt.Errorf("binding %s: %w", b, err))
			continue
		}
		obs := s.states[i].observe(now, partitions, s.cfg.OffsetReset)
		s.mb.RecordSlimfaaskafkaPendingMessagesDataPoint(ts, obs.pending, b.Topic, b.ConsumerGroup, b.Function)
		s.mb.RecordSlimfaaskafkaConsumedMessagesDataPoint(ts, obs.consumed, b.Topic, b.ConsumerGroup, b.Function)
		if !obs.lastActivity.IsZero() {
			s.mb.RecordSlimfaaskafkaLastActivityTimestampDataPoint(ts, unixSeconds(obs.lastActivity), b.Topic, b.ConsumerGroup, b.Function)
		}
	}
	return s.mb.Emit(), errs.Combine()
}

// logBindingError logs a binding's read error when its cause changes, and
// its recovery, instead of repeating the same line every scrape.
func (s *kafkaScraper) logBindingError(i int, err error) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	if text == s.lastErrorText[i] {
		return
	}
	b := s.cfg.Bindings[i]
	fields := []zap.Field{zap.String("topic", b.Topic), zap.String("group", b.ConsumerGroup), zap.String("function", b.Function)}
	if err != nil {
		s.logger.Warn("Cannot read the binding's offsets; no pending value is reported for it until this clears", append(fields, zap.Error(err))...)
	} else {
		s.logger.Info("The binding's offsets are readable again", fields...)
	}
	s.lastErrorText[i] = text
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}
