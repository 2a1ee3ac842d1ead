#!/usr/bin/perl
# Prints a new REST 2 auth token for RT's root user, made with RT's own API
# (used by the support-desk round trip test against Debian's request-tracker5).
use strict;
use warnings;
use lib '/usr/share/request-tracker5/lib';
use RT;
RT::LoadConfig();
RT::Init();
my $user = RT::User->new(RT->SystemUser);
$user->Load('root');
# RT checks a token against every token of its owner (a bcrypt each), so
# earlier runs' tokens would make every request slower: remove them first.
my $old = RT::AuthTokens->new(RT->SystemUser);
$old->LimitOwner(VALUE => $user->Id);
$old->Limit(FIELD => 'Description', VALUE => 'Tenantry support desk test');
while (my $t = $old->Next) {
    $t->Delete;
}
my $token = RT::AuthToken->new(RT->SystemUser);
my ($ok, $msg, $authstring) = $token->Create(Owner => $user->Id, Description => 'Tenantry support desk test');
die "cannot create an RT token: $msg\n" unless $ok;
print "$authstring\n";
