#!/usr/bin/perl
# Writes the small MaxMind DB files tests/transform/geo_asn_test.cpp loads, with
# MaxMind::DB::Writer::Tree (Debian libmaxmind-db-writer-perl):
#
#   make_test_mmdb.pl OUT_DIR SEED
#
# For each database NAME it writes OUT_DIR/NAME.mmdb and OUT_DIR/NAME.networks (the inserted
# networks, one CIDR a line, so the test can sample addresses at their edges):
#   country6  ip_version 6, IPv4 aliased (::ffff:0:0/96, 2001::/32, 2002::/16), GeoLite2-Country
#             shape {country:{iso_code,names}, registered_country:{iso_code}}; some entries have
#             only registered_country. IPv4 and IPv6 networks, nested.
#   asn6      ip_version 6, aliased, GeoLite2-ASN shape {autonomous_system_number (uint32),
#             autonomous_system_organization}.
#   country4  ip_version 4, GeoLite2-Country shape.
#   mixed4    ip_version 4, ip-location-db shape {country_code, asn}, asn as "AS123" or "123".
#   nokeys    ip_version 4, {city:{names:{en}}}: neither a country nor an AS number.
# Deterministic for a given SEED (Perl's rand is drand48).
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my ($out_dir, $seed) = @ARGV;
die "usage: $0 OUT_DIR SEED\n" unless defined $seed;
srand($seed);

my %types = (
    country                        => 'map',
    registered_country             => 'map',
    names                          => 'map',
    city                           => 'map',
    iso_code                       => 'utf8_string',
    en                             => 'utf8_string',
    country_code                   => 'utf8_string',
    asn                            => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

my @countries = qw(US DE FR GB JP BR IN CN RU ZA AU CA NL SE KR);

sub pick { return $_[ int(rand(scalar @_)) ]; }

sub v4_network {
    my $first = pick(1, 8, 23, 45, 100, 185, 203, 223);
    my $addr  = ($first << 24) | int(rand(1 << 24));
    $addr &= 0xff00ffff if rand() < 0.3;    # cluster: more nesting
    my $len  = 8 + int(rand(25));
    my $mask = $len == 0 ? 0 : (0xffffffff << (32 - $len)) & 0xffffffff;
    $addr &= $mask;
    return sprintf('%d.%d.%d.%d/%d',
        ($addr >> 24) & 255, ($addr >> 16) & 255, ($addr >> 8) & 255, $addr & 255, $len);
}

sub v6_network {
    my @base = @{ pick([0x2a00], [0x2400], [0x2600], [0x2001, 0x0db8], [0x2c0f]) };
    my @groups = map { int(rand(65536)) } 1 .. 8;
    $groups[$_] = $base[$_] for 0 .. $#base;
    $groups[1] &= 0x000f if @base == 1 && rand() < 0.5;    # cluster
    my $len = pick(16 * @base, 24, 28, 32, 36, 40, 44, 48, 56, 64, 64, 120, 128);
    $len = 16 * @base if $len < 16 * @base;
    for my $bit ($len .. 127) {
        $groups[int($bit / 16)] &= ~(1 << (15 - $bit % 16)) & 0xffff;
    }
    return join(':', map { sprintf('%x', $_) } @groups) . "/$len";
}

sub prefix_length { my ($net) = @_; return (split m{/}, $net)[1] + ($net =~ /:/ ? 0 : 96); }

sub write_db {
    my ($name, $ip_version, $alias, $networks, $make_data) = @_;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version               => $ip_version,
        record_size              => $ip_version == 6 ? 28 : 24,
        database_type            => "Fathom-Test-$name",
        languages                => ['en'],
        description              => { en => "Fathom test database $name" },
        map_key_type_callback    => sub { $types{ $_[0] } // die "no type for $_[0]" },
        alias_ipv6_to_ipv4       => $alias,
        remove_reserved_networks => 0,
    );
    # Outer blocks first: with merge_strategy "none" a later insert overwrites, so inserting
    # by increasing length keeps the inner blocks (the nesting the test wants).
    my @sorted = sort { prefix_length($a) <=> prefix_length($b) || $a cmp $b } @$networks;
    open(my $list, '>', "$out_dir/$name.networks") or die "$out_dir/$name.networks: $!";
    for my $net (@sorted) {
        $tree->insert_network($net, $make_data->());
        print $list "$net\n";
    }
    close($list);
    open(my $fh, '>:raw', "$out_dir/$name.mmdb") or die "$out_dir/$name.mmdb: $!";
    $tree->write_tree($fh);
    close($fh);
}

sub country_data {
    my $r = rand();
    my $c = pick(@countries);
    return { registered_country => { iso_code => pick(@countries) } } if $r < 0.15;
    return { country => { iso_code => $c, names => { en => "Country $c" } } } if $r < 0.6;
    return {
        country            => { iso_code => $c, names => { en => "Country $c" } },
        registered_country => { iso_code => pick(@countries) },
    };
}

sub asn_data {
    my $asn = 1 + int(rand(70000));
    $asn = 4200000000 + int(rand(1000)) if rand() < 0.1;    # 32-bit private range
    return { autonomous_system_number => $asn, autonomous_system_organization => "Org $asn" };
}

my @v4 = map { v4_network() } 1 .. 200;
my @v6 = map { v6_network() } 1 .. 120;
# Blocks that contain the aliased 2001::/32 and 2002::/16: the writer leaves the aliases in.
push @v6, '2000::/4', '2001::/16';

write_db('country6', 6, 1, [@v4, @v6], \&country_data);
write_db('asn6', 6, 1, [(map { v4_network() } 1 .. 200), (map { v6_network() } 1 .. 120)],
    \&asn_data);
write_db('country4', 4, 0, [map { v4_network() } 1 .. 250], \&country_data);
write_db(
    'mixed4', 4, 0,
    [map { v4_network() } 1 .. 150],
    sub {
        my $asn = 1 + int(rand(70000));
        return { country_code => pick(@countries), asn => (rand() < 0.5 ? "AS$asn" : "$asn") };
    });
write_db('nokeys', 4, 0, [map { v4_network() } 1 .. 20], sub { { city => { names => { en => 'X' } } } });
