package pendingage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/logchange"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Kafka gives only the first partition of a Fetch response at least one
// whole batch whatever the limits (KIP-74); every other partition gets at
// most its partition_max_bytes, and a batch cut short cannot be decoded. The
// limit is therefore sized for a whole producer batch (16 KiB by default in
// the Java client), not for one record. A partition whose first pending
// batch does not fit, or that comes after firstRecordsMaxBytes in the
// response, is aged by the estimate in that scrape.
const (
	firstRecordPartitionMaxBytes = 64 << 10
	firstRecordsMaxBytes         = 4 << 20
)

// fetchedRecord is the first record a Fetch from requested returned.
type fetchedRecord struct {
	requested int64
	offset    int64
	timestamp time.Time
}

// firstRecordReader reads the timestamp of the first pending record of
// lagging partitions, with one Fetch per leader broker. It joins no group
// and commits nothing; records are dropped as soon as they are dated.
type firstRecordReader struct {
	fetcher       kafkaread.Fetcher
	readCommitted bool
	logger        *zap.Logger
	readDenied    logchange.Tracker[string] // topics whose Read is denied
}

func newFirstRecordReader(fetcher kafkaread.Fetcher, readCommitted bool, logger *zap.Logger) *firstRecordReader {
	return &firstRecordReader{fetcher: fetcher, readCommitted: readCommitted, logger: logger}
}

// read fetches each partition of firsts from its offset and returns the
// records found. A partition that cannot be read is missing from the answer.
func (r *firstRecordReader) read(ctx context.Context, layout kafkaread.Layout, firsts map[offset.TopicPartition]int64) map[offset.TopicPartition]fetchedRecord {
	requests := kafkaread.NewFetchRequests(layout, kafkaread.FetchShape{ReadCommitted: r.readCommitted, MaxBytes: firstRecordsMaxBytes})
	for tp, first := range firsts {
		requests.Add(tp, first, firstRecordPartitionMaxBytes)
	}
	var (
		mu      sync.Mutex
		found   = make(map[offset.TopicPartition]fetchedRecord, len(firsts))
		denied  = map[string]bool{}
		allowed = map[string]bool{}
		wg      sync.WaitGroup
	)
	for leader, req := range requests.ByLeader {
		wg.Go(func() {
			resp, err := r.fetcher.Fetch(ctx, leader, req)
			if err != nil || resp.ErrorCode != 0 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range resp.Topics {
				t := &resp.Topics[i]
				topic := layout.FetchedTopic(t)
				for j := range t.Partitions {
					p := &t.Partitions[j]
					tp := offset.TopicPartition{Topic: topic, Partition: p.Partition}
					switch err := kerr.ErrorForCode(p.ErrorCode); {
					case errors.Is(err, kerr.TopicAuthorizationFailed):
						denied[topic] = true
						continue
					case err != nil:
						continue
					}
					allowed[topic] = true
					if rec, ok := r.firstRecord(tp, firsts[tp], p); ok {
						found[tp] = rec
					}
				}
			}
		})
	}
	wg.Wait()
	r.logReadPermission(denied, allowed)
	return found
}

// firstRecord decodes a partition's batches and keeps the first record at or
// after offset: the batch can start before it, and compaction or
// transaction markers can leave the offset itself empty.
func (r *firstRecordReader) firstRecord(tp offset.TopicPartition, from int64, p *kmsg.FetchResponseTopicPartition) (fetchedRecord, bool) {
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset:         from,
		IsolationLevel: r.isolationLevel(),
		Topic:          tp.Topic,
		Partition:      tp.Partition,
	}, p, kgo.DefaultDecompressor(), nil)
	for _, rec := range fp.Records {
		if rec.Offset >= from {
			return fetchedRecord{requested: from, offset: rec.Offset, timestamp: rec.Timestamp}, true
		}
	}
	return fetchedRecord{}, false
}

// logReadPermission logs a topic whose Read is denied once, and again when
// it becomes readable.
func (r *firstRecordReader) logReadPermission(denied, allowed map[string]bool) {
	for topic := range denied {
		if r.readDenied.Changed(topic, "denied") {
			r.logger.Warn("Reading the topic is not authorized; its pending age falls back to the estimate from high watermarks (grant the collector's principal Read on the topic for exact ages)",
				zap.String("topic", topic))
		}
	}
	for topic := range allowed {
		if r.readDenied.Changed(topic, "") {
			r.logger.Info("Reading the topic is authorized again; its pending age is exact", zap.String("topic", topic))
		}
	}
}

func (r *firstRecordReader) isolationLevel() kgo.IsolationLevel {
	if r.readCommitted {
		return kgo.ReadCommitted()
	}
	return kgo.ReadUncommitted()
}
