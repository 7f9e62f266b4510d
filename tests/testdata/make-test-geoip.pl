#!/usr/bin/perl
# Writes a tiny GeoIP2-Country style MaxMind DB for tests:
#   127.0.0.0/16 -> DE   (so 127.0.0.1 is in Germany)
#   127.1.0.0/16 -> US
#   127.2.0.0/16 -> FR
#   ::1/128      -> DE
#   127.3.0.0/16 and everything else: no country.
# Usage: make-test-geoip.pl OUT.mmdb
# Needs MaxMind::DB::Writer::Tree (Debian: libmaxmind-db-writer-perl).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

die "usage: $0 OUT.mmdb\n" unless @ARGV == 1;
my $out = $ARGV[0];

my %types = (
    country           => 'map',
    registered_country => 'map',
    iso_code          => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 24,
    database_type            => 'GeoIP2-Country',
    languages                => ['en'],
    description              => { en => 'CRM test GeoIP database' },
    alias_ipv6_to_ipv4       => 1,
    remove_reserved_networks => 0,    # 127/8 and ::1 are reserved
    map_key_type_callback    => sub { $types{ $_[0] } },
);

my %networks = (
    '127.0.0.0/16' => 'DE',
    '127.1.0.0/16' => 'US',
    '127.2.0.0/16' => 'FR',
    '::1/128'      => 'DE',
);
for my $net (sort keys %networks) {
    $tree->insert_network($net, { country => { iso_code => $networks{$net} } });
}

open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh or die "cannot close $out: $!\n";
