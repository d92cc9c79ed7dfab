import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;

/**
 * The ceiling of `bench log --backend kafka`: the Java client (kafka-clients) doing the work of
 * our bench, phase by phase, on topics it creates the way ours are created (same partition count,
 * replication factor 1 on the single bench broker) and deletes after each round.
 *
 * <ul>
 *   <li>produce-pipelined: send all N records without waiting, then flush; timed until every record
 *       is acknowledged;
 *   <li>produce: sends of `batch` records, each followed by flush() (a caller awaiting each batch);
 *   <li>consume: a fresh group reads the produce topic from the earliest offset until N records,
 *       timed from before the group join (subscribe and first poll) to the last record.
 * </ul>
 *
 * Records are ours: 16-byte hex keys cycling over 10,000 distinct keys and one 100-byte value,
 * `acks=all`, idempotence on, no compression. The JVM lives for the whole bench, as our process
 * does: it first warms up every phase once with `--warm` records (as ours is warmed), prints
 * {"ready":true}, then runs one measured round per line "round" on stdin, printing one JSON line
 * per phase ({"phase", "records", "seconds", "perSec"}) and then {"done":true}. JVM start is outside
 * every clock.
 *
 * <p>Usage: KafkaClientCeiling --brokers H:P --topic-prefix P --records N --warm W --batch B
 * --partitions K [producer.KEY=VALUE | consumer.KEY=VALUE ...]
 */
public class KafkaClientCeiling {
  static final int KEY_POOL = 10_000;
  static final byte[][] KEYS = new byte[KEY_POOL][];
  static final byte[] VALUE = new byte[100];

  static {
    for (int i = 0; i < KEY_POOL; i++) KEYS[i] = String.format("%016x", i).getBytes(StandardCharsets.US_ASCII);
    java.util.Arrays.fill(VALUE, (byte) 'v');
  }

  String brokers;
  String prefix;
  int records;
  int warm;
  int batch;
  int partitions;
  final Properties producerOverrides = new Properties();
  final Properties consumerOverrides = new Properties();

  public static void main(String[] args) throws Exception {
    KafkaClientCeiling ceiling = new KafkaClientCeiling();
    try {
      ceiling.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("KafkaClientCeiling: " + e.getMessage());
      System.exit(2);
    }
    try (Admin admin = Admin.create(ceiling.adminProps())) {
      try {
        admin.describeCluster().clusterId().get(15, TimeUnit.SECONDS);
      } catch (Exception e) {
        System.err.println("KafkaClientCeiling: cannot reach a Kafka broker at " + ceiling.brokers + " (" + e + ")");
        System.exit(3);
      }
      ceiling.run(admin);
    }
  }

  void parse(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.startsWith("producer.") && arg.contains("=")) {
        producerOverrides.put(arg.substring(9, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
        continue;
      }
      if (arg.startsWith("consumer.") && arg.contains("=")) {
        consumerOverrides.put(arg.substring(9, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
        continue;
      }
      if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + arg);
      String value = args[++i];
      switch (arg) {
        case "--brokers" -> brokers = value;
        case "--topic-prefix" -> prefix = value;
        case "--records" -> records = Integer.parseInt(value);
        case "--warm" -> warm = Integer.parseInt(value);
        case "--batch" -> batch = Integer.parseInt(value);
        case "--partitions" -> partitions = Integer.parseInt(value);
        default -> throw new IllegalArgumentException("unknown argument " + arg);
      }
    }
    if (brokers == null || prefix == null || records <= 0 || warm < 0 || batch <= 0 || partitions <= 0) {
      throw new IllegalArgumentException("needs --brokers, --topic-prefix, --records > 0, --warm >= 0, --batch > 0, --partitions > 0");
    }
  }

  Properties adminProps() {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("request.timeout.ms", "10000");
    p.put("default.api.timeout.ms", "15000");
    return p;
  }

  Properties producerProps() {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    p.put("compression.type", "none");
    p.put("batch.size", "65536");
    p.put("linger.ms", "5");
    p.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
    p.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
    p.putAll(producerOverrides);
    return p;
  }

  Properties consumerProps() {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("group.id", "bench-java-" + UUID.randomUUID());
    p.put("auto.offset.reset", "earliest");
    p.put("max.poll.records", "10000"); // as large as ours (maxPollRecords 10,000)
    p.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    p.putAll(consumerOverrides);
    return p;
  }

  /** Warms up once, then runs one measured round per "round" line on stdin until stdin closes. */
  void run(Admin admin) throws Exception {
    if (warm > 0) round(admin, prefix + "-warm", warm, false);
    System.out.println("{\"ready\":true}");
    System.out.flush();
    BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    int round = 0;
    for (String line; (line = commands.readLine()) != null; ) {
      if (!line.trim().equals("round")) throw new IllegalArgumentException("unknown command on stdin: " + line);
      round(admin, prefix + "-" + round++, records, true);
      System.out.println("{\"done\":true}");
      System.out.flush();
    }
  }

  /** Every phase on fresh topics (created before, deleted after the clocks). */
  void round(Admin admin, String topicPrefix, int n, boolean report) throws Exception {
    String pipelined = topicPrefix + "-pipelined";
    String batched = topicPrefix + "-batched";
    admin.createTopics(List.of(new NewTopic(pipelined, partitions, (short) 1), new NewTopic(batched, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
    try {
      // Wait until every partition answers on its leader (the admin retries while it does not). A
      // produce racing the partition's creation can lose its first batch to a retriable error while
      // a later in-flight batch is accepted as the producer's first, and the retry then fails with
      // OutOfOrderSequence until the delivery timeout.
      Map<TopicPartition, OffsetSpec> all = new HashMap<>();
      for (int p = 0; p < partitions; p++) {
        all.put(new TopicPartition(pipelined, p), OffsetSpec.latest());
        all.put(new TopicPartition(batched, p), OffsetSpec.latest());
      }
      awaitOnline(admin, all);
      Phase[] phases = {producePipelined(pipelined, n), produceBatched(batched, n), consume(batched, n)};
      String[] names = {"produce-pipelined", "produce", "consume"};
      for (int i = 0; report && i < phases.length; i++) print(names[i], phases[i]);
    } finally {
      admin.deleteTopics(List.of(pipelined, batched)).all().get(30, TimeUnit.SECONDS);
    }
  }

  /** Retries ListOffsets on every partition until all answer (or 30 s pass). */
  static void awaitOnline(Admin admin, Map<TopicPartition, OffsetSpec> partitions) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (;;) {
      try {
        admin.listOffsets(partitions).all().get(30, TimeUnit.SECONDS);
        return;
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof RetriableException) || System.nanoTime() > deadline) throw e;
        Thread.sleep(20);
      }
    }
  }

  /** One measured phase: the records it counted (acknowledged or received) and its time. */
  record Phase(long records, double seconds) {}

  static void print(String name, Phase phase) {
    System.out.printf(java.util.Locale.ROOT, "{\"phase\":\"%s\",\"records\":%d,\"seconds\":%.6f,\"perSec\":%d}%n", name, phase.records, phase.seconds, Math.round(phase.records / phase.seconds));
    System.out.flush();
  }

  /** Counts acknowledgements and keeps the first failure, checked when the phase ends. */
  static final class Acks implements org.apache.kafka.clients.producer.Callback {
    final AtomicLong acked = new AtomicLong();
    final AtomicReference<Exception> failure = new AtomicReference<>();

    @Override
    public void onCompletion(org.apache.kafka.clients.producer.RecordMetadata metadata, Exception e) {
      if (e != null) failure.compareAndSet(null, e);
      else acked.incrementAndGet();
    }

    void check(long expected) throws Exception {
      if (failure.get() != null) throw failure.get();
      if (acked.get() != expected) throw new IllegalStateException("acknowledged " + acked.get() + " of " + expected + " records");
    }
  }

  Phase producePipelined(String topic, int n) throws Exception {
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps())) {
      Acks acks = new Acks();
      long start = System.nanoTime();
      for (int i = 0; i < n; i++) producer.send(new ProducerRecord<>(topic, KEYS[i % KEY_POOL], VALUE), acks);
      producer.flush();
      double seconds = (System.nanoTime() - start) / 1e9;
      acks.check(n);
      return new Phase(acks.acked.get(), seconds);
    }
  }

  Phase produceBatched(String topic, int n) throws Exception {
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps())) {
      Acks acks = new Acks();
      long start = System.nanoTime();
      for (int sent = 0; sent < n; ) {
        int end = Math.min(n, sent + batch);
        for (int i = sent; i < end; i++) producer.send(new ProducerRecord<>(topic, KEYS[i % KEY_POOL], VALUE), acks);
        producer.flush();
        sent = end;
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      acks.check(n);
      return new Phase(acks.acked.get(), seconds);
    }
  }

  Phase consume(String topic, int n) {
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps())) {
      long received = 0;
      long bytes = 0;
      int emptyPolls = 0;
      long start = System.nanoTime();
      consumer.subscribe(List.of(topic));
      while (received < n) {
        ConsumerRecords<byte[], byte[]> got = consumer.poll(Duration.ofMillis(5_000));
        emptyPolls = got.isEmpty() ? emptyPolls + 1 : 0;
        if (emptyPolls >= 2) throw new IllegalStateException("consumer stalled at " + received + " of " + n + " records");
        for (ConsumerRecord<byte[], byte[]> r : got) bytes += r.value().length;
        received += got.count();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      if (received != n || bytes != (long) n * VALUE.length) throw new IllegalStateException("consumed " + received + " records, " + bytes + " value bytes; expected " + n + " records");
      // Outside the clock: the topic holds exactly n records (no duplicate from a retried send).
      long end = 0;
      for (long offset : consumer.endOffsets(consumer.assignment()).values()) end += offset;
      if (end != n) throw new IllegalStateException("topic " + topic + " holds " + end + " records; expected " + n);
      return new Phase(received, seconds);
    }
  }
}
